#pragma once
// `osprey sandbox check|run` and `osprey bench sandbox`: the sandbox from the command line.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command sandbox_command();
// The `osprey bench` group; `sandbox` is its subcommand (other benchmarks join it as rows).
Command bench_command();

}  // namespace osprey::agent::cli
