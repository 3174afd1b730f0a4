#pragma once
// A `shell` tool for the agent loop, run under the sandbox (workspace-write, no network) and
// stoppable mid-run when the task is cancelled. Registered only when the registry has no `shell`
// of its own, so the tools layer's version replaces it once it lands.

#include <atomic>

#include "tools/core/registry.hpp"

namespace osprey::agent {

// `cancel` (may be null) is polled while the command runs; when it turns true the whole process
// tree is stopped and the tool fails with "interrupted".
void add_shell_tool_if_missing(tools::Registry& registry, const std::atomic<bool>* cancel);

}  // namespace osprey::agent
