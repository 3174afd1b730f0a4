#pragma once
// The code navigation tools: outline, definition, references, repo_map.

#include "tools/codenav/symbol_index.hpp"
#include "tools/core/registry.hpp"

namespace osprey::tools {

void add_codenav_tools(Registry& registry);

// The session's symbol index, opened on first use and refreshed when a write or execute tool ran
// since the last refresh, or when it is older than ctx.index_max_age.
SymbolIndex& session_index(ToolContext& ctx);

}  // namespace osprey::tools
