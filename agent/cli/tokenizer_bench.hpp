#pragma once
// `osprey bench tokenizer`: a benchmark program that prints figures (recorded in docs/perf.md).

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

// The `tokenizer` row of the bench group (agent/cli/bench_command.hpp).
Command tokenizer_bench_command();

}  // namespace osprey::agent::cli
