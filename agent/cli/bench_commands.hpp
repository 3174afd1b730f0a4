#pragma once
// `osprey bench ...`: benchmark programs that print figures (recorded in docs/perf.md). Not tests.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

// `osprey bench` with its subcommands (`tokenizer`).
Command bench_command();

}  // namespace osprey::agent::cli
