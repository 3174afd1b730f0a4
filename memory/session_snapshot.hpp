#pragma once
// A model::Session saved as a KV snapshot file (memory/kv_snapshot_file.hpp) and restored without
// prefilling: the token ids, then the section "session" (options) and every section of the
// backend's state (Backend::save_state: shapes, then one section per layer part), streamed from the
// live state into the file.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "memory/kv_snapshot_file.hpp"
#include "model/session.hpp"

namespace osprey::memory {

// Writes the session (token ids + every piece of backend state, one section per layer/part) with
// KvSnapshotWriter atomically (temp file, fsync, rename, fsync of the folder). Returns the file
// size in bytes. Throws KvSnapshotError when the file cannot be written.
std::uint64_t write_session_snapshot(const model::Session& session,
                                     const std::filesystem::path& file,
                                     std::string_view model_fingerprint);

// Reads and verifies every checksum and restores a session on `backend` without prefilling.
// Throws KvSnapshotError (naming the file and the problem) when the file is truncated, corrupted,
// of a future version, made for another model (fingerprint), or its sections do not fit this
// backend/config/options.
model::Session read_session_snapshot(std::shared_ptr<model::Backend> backend,
                                     const std::filesystem::path& file,
                                     std::string_view model_fingerprint);

}  // namespace osprey::memory
