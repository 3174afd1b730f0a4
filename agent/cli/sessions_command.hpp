#pragma once
// `osprey sessions [list|show|search|export|delete]`: the history kept by memory/.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command sessions_command();

}  // namespace osprey::agent::cli
