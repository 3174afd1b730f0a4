#pragma once
// The `osprey` command table. New subcommands are added here (one row each).

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Dispatcher make_osprey_cli();

}  // namespace osprey::agent::cli
