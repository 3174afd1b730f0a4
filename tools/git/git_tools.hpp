#pragma once
// The git tools, through libgit2 only: git_status, git_diff, git_log, git_show, git_blame,
// git_branches, and (write permission) git_commit.

#include "tools/core/registry.hpp"

namespace osprey::tools {

void add_git_tools(Registry& registry);

}  // namespace osprey::tools
