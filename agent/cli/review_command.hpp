#pragma once
// `osprey review`: code review of a change or of the whole repository by the agent, with findings
// as Markdown, JSON or SARIF (contract in docs/cli.md).

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command review_command();

}  // namespace osprey::agent::cli
