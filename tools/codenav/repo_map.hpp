#pragma once
// repo_map: the repository's most important symbols within a token budget. Files are ranked by a
// PageRank over the file reference graph (an edge A→B when A uses a name B defines, weighted by
// how often, and down-weighted for names many files define), personalised toward the focus files
// and symbols; symbols are then scored by their file's rank and how widely their name is used.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/codenav/symbol_index.hpp"

namespace osprey::tools {

struct RepoMapOptions {
    std::size_t budget_tokens = 1024;
    std::vector<std::string> focus;  // workspace paths (files or folders) and/or symbol names
};

struct RepoMap {
    std::string text;
    nlohmann::json data;
};

RepoMap build_repo_map(SymbolIndex& index, const RepoMapOptions& options);

}  // namespace osprey::tools
