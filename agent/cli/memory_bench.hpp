#pragma once
// `osprey bench memory`: journal append latency (commit_now and batched), KV snapshot write and
// restore throughput, and resuming a long make-tiny session from its snapshot against prefilling
// its tokens again. Prints figures (recorded in docs/perf.md).

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command memory_bench_command();

}  // namespace osprey::agent::cli
