#pragma once
// `osprey bench codenav --repo DIR`: the symbol index (cold and warm), definition, references and
// repo_map latency, grep against ripgrep and the index against universal-ctags. Prints figures.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command codenav_bench_command();

}  // namespace osprey::agent::cli
