#pragma once
// The symbol index of a workspace, in a sqlite database (memory::Database): one row per source file
// keyed by path with size, mtime and content hash; its symbols; and its identifier references
// (one row per file and name, with the positions). refresh() re-parses only what changed: files
// whose size and mtime match are skipped without reading, files whose hash matches are not parsed,
// and files gone from disk are dropped. Parsing runs on all cores; one thread writes.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memory/database.hpp"
#include "tools/codenav/symbols.hpp"
#include "tools/core/workspace.hpp"

namespace osprey::tools {

struct IndexStats {
    std::size_t files = 0;      // source files in the workspace
    std::size_t unchanged = 0;  // size and mtime matched: not read
    std::size_t rehashed = 0;   // read and hashed, content unchanged: not parsed
    std::size_t parsed = 0;
    std::size_t removed = 0;
    std::size_t failed = 0;  // unreadable or parse timeout
    std::size_t skipped_large = 0;
    double seconds = 0;
};

struct IndexedSymbol {
    std::string path;
    Symbol symbol;  // parent is -1; `qualifier` and `depth` kept
    std::string parent_name;
};

struct ReferenceHit {
    std::string path;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    std::string enclosing;  // "Class::method" or "" at file scope
    bool is_definition = false;
};

class SymbolIndex {
public:
    // Opens (creating) the index for `ws` at `db_path`.
    SymbolIndex(const Workspace& ws, const std::filesystem::path& db_path);
    // ~/.cache/osprey/codenav/<hash of the root>.sqlite ($XDG_CACHE_HOME respected).
    static std::filesystem::path default_path(const Workspace& ws);

    IndexStats refresh(unsigned threads = 0);

    // Ranked: same file as `from`, same folder, then elsewhere; definitions before declarations.
    std::vector<IndexedSymbol> definitions(const std::string& name, const std::string& kind,
                                           const std::string& from);
    std::vector<ReferenceHit> references(const std::string& name, std::size_t limit);
    std::size_t file_count();

    memory::Database& database() { return db_; }
    // Changes whenever a refresh changed the index; derived data (the repo_map graph) is cached in
    // `derived_cache` tagged with it.
    std::uint64_t content_version() const { return content_version_; }
    std::shared_ptr<void> derived_cache;
    std::uint64_t derived_cache_version = 0;
    const Workspace& workspace() const { return ws_; }

    static constexpr std::uintmax_t kMaxFileBytes = 2 * 1024 * 1024;

private:
    Workspace ws_;
    memory::Database db_;
    std::uint64_t content_version_ = 1;
};

}  // namespace osprey::tools
