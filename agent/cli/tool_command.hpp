#pragma once
// `osprey tool NAME --args JSON [--root DIR]`: runs one agent tool from the command line and prints
// its structured result as JSON; `osprey tool --list` prints every tool's schema.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command tool_command();

}  // namespace osprey::agent::cli
