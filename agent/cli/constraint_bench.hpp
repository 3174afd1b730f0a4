#pragma once
// `osprey bench constraint`: how long the JSON-schema constrained decoder takes to compute the
// allowed-token mask over the whole vocabulary (the fast mask vs the per-token reference), in the
// states a review answer passes through. Prints figures (recorded in docs/perf.md).

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command constraint_bench_command();

}  // namespace osprey::agent::cli
