#pragma once
// `osprey bench`: benchmark programs that print figures (never pass/fail tests). Subcommands:
// `codenav` (symbol index, definition/references/repo_map latency, grep against ripgrep and the
// index against universal-ctags).

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command bench_command();

}  // namespace osprey::agent::cli
