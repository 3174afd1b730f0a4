#include "tools/codenav/symbol_index.hpp"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "tools/core/file_io.hpp"
#include "tools/core/file_walker.hpp"
#include "tools/core/tool_error.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS codenav_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codenav_files(
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL, language TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codenav_symbols(
    file_id INTEGER NOT NULL, name TEXT NOT NULL, qualifier TEXT NOT NULL, kind TEXT NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, signature TEXT NOT NULL,
    declaration INTEGER NOT NULL, depth INTEGER NOT NULL, parent TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codenav_refs(
    file_id INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, positions TEXT NOT NULL);
)sql";

const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS codenav_symbols_name ON codenav_symbols(name);
CREATE INDEX IF NOT EXISTS codenav_symbols_file ON codenav_symbols(file_id);
CREATE INDEX IF NOT EXISTS codenav_refs_name ON codenav_refs(name);
CREATE INDEX IF NOT EXISTS codenav_refs_file ON codenav_refs(file_id);
)sql";

const char* kDropIndexes = R"sql(
DROP INDEX IF EXISTS codenav_symbols_name;
DROP INDEX IF EXISTS codenav_symbols_file;
DROP INDEX IF EXISTS codenav_refs_name;
DROP INDEX IF EXISTS codenav_refs_file;
)sql";

struct FileRow {
    std::int64_t id = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string hash;
    bool seen = false;
};

struct Work {
    std::string path;  // relative
    fs::path absolute;
    const Language* language = nullptr;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    const FileRow* existing = nullptr;
};

struct Outcome {
    std::size_t index = 0;
    enum { parsed, same_hash, failed } kind = failed;
    std::string hash;
    FileSymbols symbols;
};

std::string hash_hex(std::string_view content) {
    const XXH64_hash_t h = XXH3_64bits(content.data(), content.size());
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::string parent_path_of(const std::vector<Symbol>& symbols, const Symbol& s) {
    std::string path;
    for (int p = s.parent; p >= 0; p = symbols[static_cast<std::size_t>(p)].parent) {
        path = symbols[static_cast<std::size_t>(p)].name + (path.empty() ? "" : "::" + path);
    }
    return path;
}

std::string dir_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

SymbolIndex::SymbolIndex(const Workspace& ws, const fs::path& db_path)
    : ws_(ws), db_([&] {
          std::error_code ec;
          fs::create_directories(db_path.parent_path(), ec);
          try {
              return memory::Database::open(db_path);
          } catch (const memory::DatabaseError& e) {
              throw ToolError(std::string("cannot open the symbol index: ") + e.what());
          }
      }()) {
    db_.exec("PRAGMA synchronous=NORMAL");
    // A cold index of a large tree writes hundreds of megabytes in one transaction; with
    // sqlite's default 2 MiB page cache it spills and re-reads pages all along.
    db_.exec("PRAGMA cache_size=-65536");
    db_.exec(kSchema);
    db_.exec(kIndexes);
    auto get = db_.prepare("SELECT value FROM codenav_meta WHERE key = ?1");
    auto meta = [&](const char* key) -> std::optional<std::string> {
        get.reset();
        get.bind(1, std::string_view(key));
        if (get.step())
            return get.column_text(0);
        return std::nullopt;
    };
    const std::string version = std::to_string(kSchemaVersion);
    const auto stored_version = meta("schema_version");
    const auto stored_root = meta("root");
    if (stored_version != version || stored_root != ws_.root().string()) {
        // Another layout or another workspace: start over rather than trust the rows.
        db_.exec(
            "DELETE FROM codenav_refs; DELETE FROM codenav_symbols; DELETE FROM codenav_files;");
        auto put = db_.prepare("INSERT OR REPLACE INTO codenav_meta(key, value) VALUES(?1, ?2)");
        put.bind(1, std::string_view("schema_version")).bind(2, std::string_view(version)).run();
        put.reset();
        put.bind(1, std::string_view("root")).bind(2, std::string_view(ws_.root().string())).run();
    }
}

fs::path SymbolIndex::default_path(const Workspace& ws) {
    fs::path base;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
        base = xdg;
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        base = fs::path(home) / ".cache";
    } else {
        base = fs::temp_directory_path();
    }
    const std::string root = ws.root().string();
    return base / "osprey" / "codenav" / (hash_hex(root) + ".sqlite");
}

IndexStats SymbolIndex::refresh(unsigned threads) {
    const auto t0 = std::chrono::steady_clock::now();
    IndexStats stats;
    std::unordered_map<std::string, FileRow> rows;
    {
        auto q = db_.prepare("SELECT id, path, size, mtime_ns, hash FROM codenav_files");
        while (q.step()) {
            rows.emplace(q.column_text(1), FileRow{q.column_int(0), q.column_int(2),
                                                   q.column_int(3), q.column_text(4), false});
        }
    }
    std::vector<Work> work;
    walk(ws_, ws_.root(), WalkOptions{}, [&](const WalkEntry& e) {
        if (e.is_dir)
            return true;
        const Language* lang = language_for_path(e.path);
        if (lang == nullptr)
            return true;
        struct stat st {};
        if (::stat(e.path.c_str(), &st) != 0)
            return true;
        if (static_cast<std::uintmax_t>(st.st_size) > kMaxFileBytes) {
            ++stats.skipped_large;
            return true;
        }
        ++stats.files;
        const std::int64_t mtime =
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        auto it = rows.find(e.relative);
        if (it != rows.end()) {
            it->second.seen = true;
            if (it->second.size == st.st_size && it->second.mtime_ns == mtime) {
                ++stats.unchanged;
                return true;
            }
        }
        work.push_back({e.relative, e.path, lang, static_cast<std::int64_t>(st.st_size), mtime,
                        it != rows.end() ? &it->second : nullptr});
        return true;
    });

    memory::Transaction tx(db_);
    // A cold build loads every row at once: sorting each lookup index once at the end costs far
    // less than keeping it up to date row by row. (Same transaction, so a failure keeps them.)
    const bool bulk_load = rows.empty() && !work.empty();
    if (bulk_load)
        db_.exec(kDropIndexes);
    auto del_symbols = db_.prepare("DELETE FROM codenav_symbols WHERE file_id = ?1");
    auto del_refs = db_.prepare("DELETE FROM codenav_refs WHERE file_id = ?1");
    auto del_file = db_.prepare("DELETE FROM codenav_files WHERE id = ?1");
    for (const auto& [path, row] : rows) {
        if (row.seen)
            continue;
        for (auto* st : {&del_symbols, &del_refs, &del_file}) {
            st->reset();
            st->bind(1, row.id).run();
        }
        ++stats.removed;
    }

    if (!work.empty()) {
        std::deque<Outcome> done;
        std::mutex mutex;
        std::condition_variable ready;
        std::atomic<std::size_t> next{0};
        auto worker = [&] {
            SymbolExtractor extractor;
            for (;;) {
                const std::size_t i = next.fetch_add(1);
                if (i >= work.size())
                    return;
                Outcome out;
                out.index = i;
                try {
                    const std::string content = read_file(work[i].absolute);
                    out.hash = hash_hex(content);
                    if (work[i].existing != nullptr && work[i].existing->hash == out.hash) {
                        out.kind = Outcome::same_hash;
                    } else {
                        out.symbols = extractor.extract(*work[i].language, content, true);
                        out.kind = Outcome::parsed;
                    }
                } catch (const std::exception&) {
                    out.kind = Outcome::failed;
                }
                std::lock_guard lock(mutex);
                done.push_back(std::move(out));
                ready.notify_one();
            }
        };
        unsigned n = threads != 0 ? threads : std::max(1U, std::thread::hardware_concurrency());
        n = std::min<unsigned>(n, static_cast<unsigned>(work.size()));
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < n; ++t)
            pool.emplace_back(worker);

        auto touch = db_.prepare("UPDATE codenav_files SET size = ?2, mtime_ns = ?3 WHERE id = ?1");
        auto update = db_.prepare(
            "UPDATE codenav_files SET size = ?2, mtime_ns = ?3, hash = ?4, language = ?5 WHERE id "
            "= "
            "?1");
        auto insert = db_.prepare(
            "INSERT INTO codenav_files(path, size, mtime_ns, hash, language) "
            "VALUES(?1, ?2, ?3, ?4, ?5)");
        auto add_symbol = db_.prepare(
            "INSERT INTO codenav_symbols(file_id, name, qualifier, kind, start_line, end_line, "
            "signature, declaration, depth, parent) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
            "?10)");
        auto add_ref = db_.prepare(
            "INSERT INTO codenav_refs(file_id, name, count, positions) VALUES(?1, ?2, ?3, ?4)");
        std::size_t handled = 0;
        while (handled < work.size()) {
            Outcome out;
            {
                std::unique_lock lock(mutex);
                ready.wait(lock, [&] { return !done.empty(); });
                out = std::move(done.front());
                done.pop_front();
            }
            ++handled;
            const Work& w = work[out.index];
            if (out.kind == Outcome::failed) {
                ++stats.failed;
                continue;
            }
            if (out.kind == Outcome::same_hash) {
                touch.reset();
                touch.bind(1, w.existing->id).bind(2, w.size).bind(3, w.mtime_ns).run();
                ++stats.rehashed;
                continue;
            }
            ++stats.parsed;
            std::int64_t id = 0;
            if (w.existing != nullptr) {
                id = w.existing->id;
                for (auto* st : {&del_symbols, &del_refs}) {
                    st->reset();
                    st->bind(1, id).run();
                }
                update.reset();
                update.bind(1, id).bind(2, w.size).bind(3, w.mtime_ns).bind(4, out.hash);
                update.bind(5, w.language->name).run();
            } else {
                insert.reset();
                insert.bind(1, w.path).bind(2, w.size).bind(3, w.mtime_ns).bind(4, out.hash);
                insert.bind(5, w.language->name).run();
                id = db_.last_insert_rowid();
            }
            const auto& symbols = out.symbols.symbols;
            for (const auto& s : symbols) {
                add_symbol.reset();
                add_symbol.bind(1, id).bind(2, s.name).bind(3, s.qualifier).bind(4, s.kind);
                add_symbol.bind(5, static_cast<std::int64_t>(s.start_line));
                add_symbol.bind(6, static_cast<std::int64_t>(s.end_line));
                add_symbol.bind(7, s.signature).bind(8, std::int64_t{s.declaration ? 1 : 0});
                add_symbol.bind(9, std::int64_t{s.depth}).bind(10, parent_path_of(symbols, s));
                add_symbol.run();
            }
            // One row per name: "line:col,line:col,...".
            std::unordered_map<std::string_view, std::pair<std::int64_t, std::string>> grouped;
            for (const auto& r : out.symbols.references) {
                auto& g = grouped[r.name];
                ++g.first;
                if (!g.second.empty())
                    g.second += ',';
                g.second += std::to_string(r.line) + ":" + std::to_string(r.column);
            }
            for (const auto& [name, g] : grouped) {
                add_ref.reset();
                add_ref.bind(1, id).bind(2, name).bind(3, g.first).bind(4, g.second).run();
            }
        }
        for (auto& t : pool)
            t.join();
    }
    if (bulk_load)
        db_.exec(kIndexes);
    tx.commit();
    if (stats.parsed > 0 || stats.removed > 0)
        ++content_version_;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return stats;
}

std::vector<IndexedSymbol> SymbolIndex::definitions(const std::string& name,
                                                    const std::string& kind,
                                                    const std::string& from) {
    auto q = db_.prepare(
        "SELECT f.path, s.name, s.qualifier, s.kind, s.start_line, s.end_line, s.signature, "
        "s.declaration, s.depth, s.parent FROM codenav_symbols s JOIN codenav_files f ON f.id = "
        "s.file_id WHERE s.name = ?1 AND (?2 = '' OR s.kind = ?2)");
    q.bind(1, name).bind(2, kind);
    std::vector<IndexedSymbol> out;
    while (q.step()) {
        IndexedSymbol hit;
        hit.path = q.column_text(0);
        hit.symbol.name = q.column_text(1);
        hit.symbol.qualifier = q.column_text(2);
        hit.symbol.kind = q.column_text(3);
        hit.symbol.start_line = static_cast<std::uint32_t>(q.column_int(4));
        hit.symbol.end_line = static_cast<std::uint32_t>(q.column_int(5));
        hit.symbol.signature = q.column_text(6);
        hit.symbol.declaration = q.column_int(7) != 0;
        hit.symbol.depth = static_cast<int>(q.column_int(8));
        hit.parent_name = q.column_text(9);
        out.push_back(std::move(hit));
    }
    const std::string from_dir = dir_of(from);
    auto rank = [&](const IndexedSymbol& s) {
        int place = 2;
        if (!from.empty() && s.path == from) {
            place = 0;
        } else if (!from.empty() && dir_of(s.path) == from_dir) {
            place = 1;
        }
        return std::make_tuple(place, s.symbol.declaration ? 1 : 0, s.symbol.depth, s.path,
                               s.symbol.start_line);
    };
    std::sort(out.begin(), out.end(),
              [&](const IndexedSymbol& a, const IndexedSymbol& b) { return rank(a) < rank(b); });
    return out;
}

std::vector<ReferenceHit> SymbolIndex::references(const std::string& name, std::size_t limit) {
    auto q = db_.prepare(
        "SELECT f.path, r.positions, r.file_id FROM codenav_refs r JOIN codenav_files f ON f.id = "
        "r.file_id WHERE r.name = ?1 ORDER BY f.path");
    q.bind(1, name);
    auto symbols = db_.prepare(
        "SELECT name, qualifier, start_line, end_line, parent FROM codenav_symbols WHERE file_id = "
        "?1");
    std::vector<ReferenceHit> out;
    while (q.step() && out.size() < limit) {
        const std::string path = q.column_text(0);
        const std::string positions = q.column_text(1);
        struct Range {
            std::string name;
            std::uint32_t start, end;
        };
        std::vector<Range> ranges;
        std::vector<std::uint32_t> definition_lines;
        symbols.reset();
        symbols.bind(1, q.column_int(2));
        while (symbols.step()) {
            std::string full = symbols.column_text(4);
            const std::string qualifier = symbols.column_text(1);
            if (!qualifier.empty())
                full += (full.empty() ? "" : "::") + qualifier;
            const std::string own = symbols.column_text(0);
            full += (full.empty() ? "" : "::") + own;
            const auto start = static_cast<std::uint32_t>(symbols.column_int(2));
            ranges.push_back({full, start, static_cast<std::uint32_t>(symbols.column_int(3))});
            if (own == name)
                definition_lines.push_back(start);
        }
        std::size_t pos = 0;
        while (pos < positions.size() && out.size() < limit) {
            std::size_t end = positions.find(',', pos);
            if (end == std::string::npos)
                end = positions.size();
            const std::string item = positions.substr(pos, end - pos);
            pos = end + 1;
            const auto colon = item.find(':');
            ReferenceHit hit;
            hit.path = path;
            hit.line = static_cast<std::uint32_t>(std::stoul(item.substr(0, colon)));
            hit.column = static_cast<std::uint32_t>(std::stoul(item.substr(colon + 1)));
            // The innermost symbol containing the line, other than the definition itself.
            std::uint32_t best_span = UINT32_MAX;
            for (const auto& r : ranges) {
                if (r.start <= hit.line && hit.line <= r.end && r.end - r.start < best_span) {
                    const bool self =
                        r.start == hit.line && r.name.size() >= name.size() &&
                        r.name.compare(r.name.size() - name.size(), name.size(), name) == 0;
                    if (self)
                        continue;
                    best_span = r.end - r.start;
                    hit.enclosing = r.name;
                }
            }
            hit.is_definition = std::find(definition_lines.begin(), definition_lines.end(),
                                          hit.line) != definition_lines.end();
            out.push_back(std::move(hit));
        }
    }
    return out;
}

std::size_t SymbolIndex::file_count() {
    auto q = db_.prepare("SELECT count(*) FROM codenav_files");
    q.step();
    return static_cast<std::size_t>(q.column_int(0));
}

}  // namespace osprey::tools
