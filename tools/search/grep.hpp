#pragma once
// grep over the workspace: PCRE2 (JIT-compiled, UTF-8 aware, tolerant of invalid UTF-8),
// gitignore-aware, file-type and glob filters, context lines, a match limit, files searched in
// parallel and reported in path order, binary files skipped.

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/core/registry.hpp"
#include "tools/core/workspace.hpp"

namespace osprey::tools {

struct GrepOptions {
    std::string pattern;
    bool ignore_case = false;
    bool fixed_strings = false;  // the pattern is literal text
    std::size_t context = 0;     // lines before and after each match
    std::size_t max_matches = 200;
    std::string glob;      // on the path below the search folder; without '/', on the file name
    std::string type;      // "cpp", "python", "md", ... (see grep_types())
    unsigned threads = 0;  // 0: one per core
    bool respect_gitignore = true;
};

struct GrepLine {
    std::size_t line = 0;  // 1-based
    std::string text;
    bool is_match = false;
};

struct GrepFile {
    std::string path;  // relative to the workspace root
    std::size_t matches = 0;
    std::vector<GrepLine> lines;  // matches and context, in order; gaps mean "--"
};

struct GrepResult {
    std::vector<GrepFile> files;
    std::size_t total_matches = 0;
    std::size_t files_searched = 0;
    std::size_t binary_skipped = 0;
    bool limit_hit = false;
};

// Throws ToolError for a bad pattern (with PCRE2's message and offset) or a bad type.
GrepResult grep(const Workspace& ws, const std::filesystem::path& start,
                const GrepOptions& options);

// The names `type` accepts, with their extensions, e.g. "cpp: .cc .cpp ...".
std::vector<std::string> grep_types();

void add_grep_tool(Registry& registry);

}  // namespace osprey::tools
