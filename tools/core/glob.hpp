#pragma once
// Glob patterns as gitignore and the `glob` tool use them, on '/'-separated relative paths:
// `*` and `?` never match '/', `[a-z]`/`[!a-z]` classes, `\` escapes, and `**` as a whole path
// component matches zero or more directories (`**/x`, `a/**/b`, `a/**`).

#include <string_view>

namespace osprey::tools {

bool glob_match(std::string_view pattern, std::string_view path);

}  // namespace osprey::tools
