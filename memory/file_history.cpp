#include "memory/file_history.hpp"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "memory/blobs.hpp"
#include "memory/store.hpp"

namespace osprey::memory {
namespace fs = std::filesystem;

void FileHistory::record_before_change(std::string_view session_id, std::int64_t step,
                                       const fs::path& path) {
    const fs::path abs = fs::absolute(path).lexically_normal();
    auto seen = db_.prepare(
        "SELECT 1 FROM file_snapshots WHERE session_id = ?1 AND step = ?2 AND path = ?3;");
    seen.bind(1, session_id).bind(2, step).bind(3, std::string_view(abs.string()));
    if (seen.step()) {
        return;
    }
    struct stat st {};
    const bool exists = ::stat(abs.c_str(), &st) == 0 && S_ISREG(st.st_mode);
    std::optional<std::string> hash;
    if (exists) {
        std::ifstream in(abs, std::ios::binary);
        if (!in) {
            throw DatabaseError("cannot read " + abs.string() + " to save it before it changes");
        }
        std::ostringstream bytes;
        bytes << in.rdbuf();
        hash = Blobs(db_).put(bytes.str());
    }
    auto insert = db_.prepare(
        "INSERT INTO file_snapshots(session_id, step, path, existed, blob_hash, mode, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);");
    insert.bind(1, session_id)
        .bind(2, step)
        .bind(3, std::string_view(abs.string()))
        .bind(4, std::int64_t{exists ? 1 : 0})
        .bind(7, now_ms());
    if (exists) {
        insert.bind(5, std::string_view(*hash))
            .bind(6, static_cast<std::int64_t>(st.st_mode & 07777));
    } else {
        insert.bind_null(5).bind_null(6);
    }
    insert.run();
}

std::vector<FileRestore> FileHistory::plan_rewind(std::string_view session_id, std::int64_t step) {
    auto q = db_.prepare(
        "SELECT path, existed, blob_hash, mode FROM file_snapshots "
        "WHERE session_id = ?1 AND step >= ?2 ORDER BY step ASC, id ASC;");
    q.bind(1, session_id).bind(2, step);
    std::map<std::string, FileRestore> earliest;
    Blobs blobs(db_);
    while (q.step()) {
        const std::string path = q.column_text(0);
        if (earliest.count(path) != 0) {
            continue;
        }
        FileRestore r;
        r.path = path;
        r.existed = q.column_int(1) == 1;
        if (r.existed) {
            const std::string hash = q.column_text(2);
            r.content = blobs.get(hash);
            if (!r.content) {
                throw DatabaseError("the saved contents of " + path + " (blob " + hash +
                                    ") are missing from the store");
            }
            r.mode = static_cast<std::uint32_t>(q.column_int(3));
        }
        earliest.emplace(path, std::move(r));
    }
    std::vector<FileRestore> out;
    for (auto& [path, r] : earliest) {
        out.push_back(std::move(r));
    }
    return out;
}

void FileHistory::apply(const std::vector<FileRestore>& plan) {
    for (const auto& r : plan) {
        std::error_code ec;
        if (!r.existed) {
            fs::remove(r.path, ec);
            if (ec) {
                throw std::runtime_error("cannot remove " + r.path.string() + ": " + ec.message());
            }
            continue;
        }
        fs::create_directories(r.path.parent_path(), ec);
        const fs::path tmp = r.path.string() + ".osprey-restore";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out << *r.content;
            if (!out.flush()) {
                throw std::runtime_error("cannot write " + tmp.string());
            }
        }
        if (r.mode) {
            ::chmod(tmp.c_str(), static_cast<mode_t>(*r.mode));
        }
        fs::rename(tmp, r.path, ec);
        if (ec) {
            fs::remove(tmp, ec);
            throw std::runtime_error("cannot restore " + r.path.string() + ": " + ec.message());
        }
    }
}

}  // namespace osprey::memory
