#pragma once
// `osprey version` / `--version` and `osprey devices`: what this binary is and what it can run on.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command version_command();
Command devices_command();

// Prints the `--version` text; shared by `osprey --version` and `osprey version`.
int print_version(Io& io, bool json);

}  // namespace osprey::agent::cli
