#pragma once
// `osprey bench codenav`: symbol index, definition/references/repo_map latency, grep against
// ripgrep and the index against universal-ctags. Prints figures; never a pass/fail test.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

// The `codenav` row of the bench group (agent/cli/bench_command.hpp).
Command codenav_bench_command();

}  // namespace osprey::agent::cli
