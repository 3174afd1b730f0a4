#pragma once
// The tree-sitter query files of tools/codenav/queries, compiled into the binary.

#include <span>
#include <string_view>

namespace osprey::tools {

struct EmbeddedQuery {
    std::string_view language;  // "cpp"
    std::string_view kind;      // "definitions" or "references"
    std::string_view text;
};

std::span<const EmbeddedQuery> embedded_queries();

}  // namespace osprey::tools
