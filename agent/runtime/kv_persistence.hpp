#pragma once
// KV snapshots of a task's engine session on disk (memory/session_snapshot.hpp): written at the end
// of every model turn, catalogued in the store, evicted least-recently-used beyond a disk budget,
// and looked up on resume and fork so only what no snapshot holds is prefilled again. A snapshot
// that fails its checks is reported, discarded and the next best one (or a full re-prefill) used.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/model_client.hpp"
#include "memory/database.hpp"
#include "memory/kv_snapshots.hpp"

namespace osprey::agent {

struct KvPersistence {
    // The catalogue's connection: the store's, used on the thread that owns it (the event loop;
    // snapshot files themselves are written on the compute thread, see write_snapshot_file).
    memory::Database* db = nullptr;
    std::shared_ptr<std::mutex> lock;  // optional: serialises catalogue use
    std::filesystem::path folder;      // <data dir>/kv
    std::int64_t budget_bytes = std::int64_t{20} << 30;
};

struct RestoreReport {
    std::int64_t restored_tokens = 0;    // taken from a snapshot (or the journal, scripted)
    std::int64_t replayed_tokens = 0;    // prefilled again
    std::vector<std::string> discarded;  // why each unusable snapshot was dropped
};

// Makes `client` hold `context`, from the longest usable snapshot plus a prefill of the rest. A
// snapshot that also holds a prefix of `pending` (taken after a prefill) is used as well: the
// next append() skips those tokens.
RestoreReport restore_context(ModelClient& client, const std::vector<std::int32_t>& context,
                              const std::vector<std::int32_t>& pending, const KvPersistence& kv);

// Snapshots are written at every turn end, and after a prefill once this many tokens came in
// since the last one.
inline constexpr std::int64_t kSnapshotEveryTokens = 2048;

// Writes a snapshot of the client's engine session for `session_id`, records it and evicts to the
// budget. Does nothing for the scripted backend. Throws on I/O errors (the caller reports them:
// a failed snapshot never stops a task).
void save_snapshot(ModelClient& client, const std::string& session_id, const KvPersistence& kv);

// The same in two halves, for a snapshot taken on the compute thread while the event loop owns
// the store's connection: write_snapshot_file() writes the file (nothing when that state is on
// disk already) and returns the catalogue row; record_snapshot() adds it and evicts (loop thread).
std::optional<memory::KvSnapshotRecord> write_snapshot_file(ModelClient& client,
                                                            const std::string& session_id,
                                                            const KvPersistence& kv);
void record_snapshot(const memory::KvSnapshotRecord& record, const KvPersistence& kv);

// "20G", "512M", "1024" (bytes); throws std::invalid_argument naming the text.
std::int64_t parse_byte_size(const std::string& text);

}  // namespace osprey::agent
