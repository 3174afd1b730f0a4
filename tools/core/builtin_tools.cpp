#include "tools/codenav/codenav_tools.hpp"
#include "tools/core/registry.hpp"
#include "tools/files/file_tools.hpp"
#include "tools/git/git_tools.hpp"
#include "tools/search/grep.hpp"
#include "tools/shell/shell_tool.hpp"

namespace osprey::tools {

void add_todo_tool(Registry& registry);
void add_memory_tool(Registry& registry);

Registry make_default_registry() {
    Registry registry;
    add_file_tools(registry);
    add_grep_tool(registry);
    add_shell_tools(registry);
    add_git_tools(registry);
    add_codenav_tools(registry);
    add_todo_tool(registry);
    add_memory_tool(registry);
    return registry;
}

}  // namespace osprey::tools
