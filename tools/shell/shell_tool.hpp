#pragma once
// The `shell` tool: a command line run through sandbox/ (bash -c under the session's sandbox
// policy, workspace-write by default), with a timeout, an output cap and the exit status in the
// result; background=true starts it as a job polled and stopped with `job_output`.

#include "tools/core/registry.hpp"

namespace osprey::tools {

void add_shell_tools(Registry& registry);

}  // namespace osprey::tools
