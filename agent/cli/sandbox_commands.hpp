#pragma once
// `osprey sandbox check|run` and `osprey bench sandbox`: the sandbox from the command line.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command sandbox_command();
// `osprey bench sandbox`, a row of the bench group (agent/cli/bench_command.hpp).
Command sandbox_bench_command();

}  // namespace osprey::agent::cli
