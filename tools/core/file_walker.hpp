#pragma once
// Walks a folder of the workspace the way git sees it: `.git` is never entered, and `.gitignore`
// files (root to leaf, later and deeper rules winning, `!` re-including) plus `.git/info/exclude`
// hide what they name. Symbolic links to folders are not followed (no cycles, no escapes); links
// to files are reported only when their target lies inside the workspace.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/core/workspace.hpp"

namespace osprey::tools {

struct WalkEntry {
    std::filesystem::path path;  // absolute
    std::string relative;        // to the workspace root, '/' separated
    bool is_dir = false;
    int depth = 0;  // 1 for the start folder's children
};

struct WalkOptions {
    bool respect_gitignore = true;
    int max_depth = 1 << 20;
};

// One parsed gitignore line.
struct IgnoreRule {
    std::string pattern;  // without '!', leading '/' and trailing '/'
    std::string base;     // the folder of the .gitignore, relative to the root ("" = root)
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // contained a '/': matched against the path from `base`
};

// Parses gitignore text; rules are relative to `base`.
std::vector<IgnoreRule> parse_gitignore(std::string_view text, const std::string& base);
// Last matching rule wins; returns true when ignored.
bool is_ignored(const std::vector<IgnoreRule>& rules, std::string_view relative, bool is_dir);

// Calls `visit` for each entry below `start` (not for `start` itself), folders before their
// contents, names sorted. `visit` returns false to skip a folder's contents.
void walk(const Workspace& ws, const std::filesystem::path& start, const WalkOptions& options,
          const std::function<bool(const WalkEntry&)>& visit);

// Every file below `start` (gitignore-aware), sorted by relative path.
std::vector<WalkEntry> list_files(const Workspace& ws, const std::filesystem::path& start,
                                  const WalkOptions& options = {});

}  // namespace osprey::tools
