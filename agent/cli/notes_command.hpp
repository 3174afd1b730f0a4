#pragma once
// `osprey notes [list|add|edit|delete]`: the project memory the model keeps per workspace (the
// `memory` tool), for the user to read and correct.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command notes_command();

}  // namespace osprey::agent::cli
