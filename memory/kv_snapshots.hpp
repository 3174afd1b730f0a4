#pragma once
// The catalogue of KV snapshot files (memory/kv_snapshot_file.hpp) in the data folder: which
// session and token prefix each holds, for which model, and when it was last used — for resume,
// fork (reuse the longest snapshot that is a prefix of the new session) and LRU eviction under a
// disk budget.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "memory/database.hpp"

namespace osprey::memory {

// 16 hex digits of XXH3-64 over the token ids.
std::string token_prefix_hash(std::span<const std::int32_t> tokens);

struct KvSnapshotRecord {
    std::int64_t id = 0;
    std::string session_id;
    std::filesystem::path file;
    std::int64_t token_count = 0;
    std::string prefix_hash;
    std::string model_fingerprint;
    std::string checksum;
    std::int64_t size_bytes = 0;
    std::int64_t last_used_at = 0;
};

class KvSnapshots {
public:
    explicit KvSnapshots(Database& db) : db_(db) {}

    std::int64_t record(const KvSnapshotRecord& snapshot);
    // The session's snapshots for `model_fingerprint`, longest prefix first.
    std::vector<KvSnapshotRecord> for_session(std::string_view session_id,
                                              std::string_view model_fingerprint);
    // The longest snapshot of any session whose tokens are a prefix of `tokens` (same model).
    std::optional<KvSnapshotRecord> longest_prefix(std::string_view model_fingerprint,
                                                   std::span<const std::int32_t> tokens);
    void touch(std::int64_t id);
    // Removes the row and its file (a discarded or evicted snapshot).
    void forget(std::int64_t id);
    // Deletes least recently used snapshots (rows and files) until the total is within
    // `budget_bytes`; returns how many were evicted.
    int evict_to_budget(std::int64_t budget_bytes);
    std::int64_t total_bytes();

private:
    Database& db_;
};

}  // namespace osprey::memory
