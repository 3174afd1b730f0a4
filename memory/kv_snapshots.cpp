#include "memory/kv_snapshots.hpp"

#include <xxhash.h>

#include <cstdio>
#include <system_error>

#include "memory/store.hpp"

namespace osprey::memory {
namespace {

constexpr const char* kColumns =
    "SELECT id, session_id, file_path, token_count, prefix_hash, model_fingerprint, checksum, "
    "size_bytes, last_used_at FROM kv_snapshots ";

KvSnapshotRecord read_row(const Statement& q) {
    return {q.column_int(0),  q.column_text(1), q.column_text(2), q.column_int(3), q.column_text(4),
            q.column_text(5), q.column_text(6), q.column_int(7),  q.column_int(8)};
}

}  // namespace

std::string token_prefix_hash(std::span<const std::int32_t> tokens) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(XXH3_64bits(tokens.data(), tokens.size_bytes())));
    return hex;
}

std::int64_t KvSnapshots::record(const KvSnapshotRecord& s) {
    const std::int64_t now = now_ms();
    db_.prepare(
           "INSERT INTO kv_snapshots(session_id, file_path, token_count, prefix_hash, "
           "model_fingerprint, checksum, size_bytes, created_at, last_used_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8);")
        .bind(1, std::string_view(s.session_id))
        .bind(2, std::string_view(s.file.string()))
        .bind(3, s.token_count)
        .bind(4, std::string_view(s.prefix_hash))
        .bind(5, std::string_view(s.model_fingerprint))
        .bind(6, std::string_view(s.checksum))
        .bind(7, s.size_bytes)
        .bind(8, now)
        .run();
    return db_.last_insert_rowid();
}

std::vector<KvSnapshotRecord> KvSnapshots::for_session(std::string_view session_id,
                                                       std::string_view model_fingerprint) {
    auto q = db_.prepare(std::string(kColumns) +
                         "WHERE session_id = ?1 AND model_fingerprint = ?2 "
                         "ORDER BY token_count DESC, id DESC;");
    q.bind(1, session_id).bind(2, model_fingerprint);
    std::vector<KvSnapshotRecord> out;
    while (q.step()) {
        out.push_back(read_row(q));
    }
    return out;
}

std::optional<KvSnapshotRecord> KvSnapshots::longest_prefix(std::string_view model_fingerprint,
                                                            std::span<const std::int32_t> tokens) {
    auto q = db_.prepare(std::string(kColumns) +
                         "WHERE model_fingerprint = ?1 AND token_count <= ?2 "
                         "ORDER BY token_count DESC, last_used_at DESC;");
    q.bind(1, model_fingerprint).bind(2, static_cast<std::int64_t>(tokens.size()));
    while (q.step()) {
        KvSnapshotRecord r = read_row(q);
        const auto prefix = tokens.first(static_cast<std::size_t>(r.token_count));
        if (token_prefix_hash(prefix) == r.prefix_hash) {
            return r;
        }
    }
    return std::nullopt;
}

void KvSnapshots::touch(std::int64_t id) {
    db_.prepare("UPDATE kv_snapshots SET last_used_at = ?2 WHERE id = ?1;")
        .bind(1, id)
        .bind(2, now_ms())
        .run();
}

void KvSnapshots::forget(std::int64_t id) {
    auto q = db_.prepare("SELECT file_path FROM kv_snapshots WHERE id = ?1;");
    q.bind(1, id);
    if (q.step()) {
        std::error_code ignored;  // already gone is fine: the row is what matters
        std::filesystem::remove(q.column_text(0), ignored);
    }
    db_.prepare("DELETE FROM kv_snapshots WHERE id = ?1;").bind(1, id).run();
}

std::int64_t KvSnapshots::total_bytes() {
    auto q = db_.prepare("SELECT coalesce(sum(size_bytes), 0) FROM kv_snapshots;");
    q.step();
    return q.column_int(0);
}

int KvSnapshots::evict_to_budget(std::int64_t budget_bytes) {
    int evicted = 0;
    std::int64_t total = total_bytes();
    while (total > budget_bytes) {
        auto q = db_.prepare(
            "SELECT id, size_bytes FROM kv_snapshots ORDER BY last_used_at ASC, id ASC LIMIT 1;");
        if (!q.step()) {
            break;
        }
        const std::int64_t id = q.column_int(0);
        total -= q.column_int(1);
        forget(id);
        ++evicted;
    }
    return evicted;
}

}  // namespace osprey::memory
