#pragma once
// `osprey bench <what>`: benchmark programs that print figures (recorded in docs/perf.md with the
// command that produced them). Each layer's front end contributes one subcommand.

#include <vector>

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command bench_command(std::vector<Command> benchmarks);

}  // namespace osprey::agent::cli
