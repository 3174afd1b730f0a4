#pragma once
// `osprey run [PROMPT | -p PROMPT | stdin]`: the headless agent. Runs one task on one KV session
// and prints text, the final JSON object, or the event stream (docs/events.md). Exit codes: 0 done,
// 1 task failed, 2 bad usage or input, 3 budget or loop limit, 130/143 interrupted.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command run_command();

}  // namespace osprey::agent::cli
