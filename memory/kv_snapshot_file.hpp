#pragma once
// The on-disk format of a KV-cache snapshot: the engine's session state for a token prefix, so a
// resumed, forked or rewound session continues without prefilling again.
//
// Layout (little-endian), format version 1:
//   "OSPREYKV" | u32 version | u32 section count | u64 token count
//   | u32 fingerprint length | fingerprint bytes | u64 XXH3-64 of everything above      (header)
//   then per section: u32 name length | name | u64 size | u64 XXH3-64 of the bytes | bytes
//   then "KVEND\0\0\0" | u64 XXH3-64 of all section checksums                          (trailer)
// The token ids are the first section, "tokens" (int32 each). Files are written to a temp name,
// fsync'd, renamed into place and the folder fsync'd: a crash leaves the old file or the new one.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace osprey::memory {

inline constexpr std::uint32_t kKvSnapshotVersion = 1;

// A snapshot that cannot be used: truncated, corrupted, from another model or a newer Osprey. The
// message says which and names the file; the caller discards it and rebuilds from the journal.
class KvSnapshotError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class KvSnapshotWriter {
public:
    KvSnapshotWriter(std::filesystem::path path, std::string_view model_fingerprint,
                     std::span<const std::int32_t> tokens);
    KvSnapshotWriter(const KvSnapshotWriter&) = delete;
    KvSnapshotWriter& operator=(const KvSnapshotWriter&) = delete;
    // Removes the temp file when commit() was not reached.
    ~KvSnapshotWriter();

    // Sections are written in the order added (streamed: nothing is held in memory).
    void add_section(std::string_view name, std::span<const std::byte> bytes);
    // Writes the trailer, fsyncs, renames into place, fsyncs the folder. Returns the file's size.
    std::uint64_t commit();

private:
    void write(const void* data, std::size_t size);

    std::filesystem::path path_;
    std::filesystem::path temp_;
    int fd_ = -1;
    std::uint32_t sections_ = 0;
    std::uint64_t written_ = 0;
    std::vector<std::uint64_t> checksums_;
    std::string header_;  // as written, with the section count patched in at commit()
    std::size_t count_offset_ = 0;
    bool committed_ = false;
};

struct KvSnapshotSection {
    std::string name;
    std::vector<std::byte> bytes;
};

struct KvSnapshot {
    std::uint32_t version = 0;
    std::string model_fingerprint;
    std::vector<std::int32_t> tokens;
    std::vector<KvSnapshotSection> sections;  // without "tokens"

    const KvSnapshotSection* find(std::string_view name) const;
};

// Reads and verifies every checksum. Throws KvSnapshotError when the file is truncated, corrupted,
// of a newer format, or (when `expected_fingerprint` is non-empty) made for another model.
KvSnapshot read_kv_snapshot(const std::filesystem::path& path,
                            std::string_view expected_fingerprint);

// The same checks without copying the sections: the file is mapped read-only and every checksum is
// verified on open (the same KvSnapshotError cases as read_kv_snapshot); sections are views into
// the mapping, valid while this object lives. For restoring big sessions at disk speed.
class KvSnapshotView {
public:
    struct Section {
        std::string name;
        std::span<const std::byte> bytes;
    };

    static KvSnapshotView open(const std::filesystem::path& path,
                               std::string_view expected_fingerprint);
    KvSnapshotView(KvSnapshotView&& other) noexcept;
    KvSnapshotView& operator=(KvSnapshotView&& other) noexcept;
    ~KvSnapshotView();

    std::uint32_t version() const { return version_; }
    const std::string& model_fingerprint() const { return fingerprint_; }
    const std::vector<std::int32_t>& tokens() const { return tokens_; }  // copied out (aligned)
    const std::vector<Section>& sections() const { return sections_; }   // without "tokens"
    std::optional<std::span<const std::byte>> find(std::string_view name) const;
    std::uint64_t file_size() const { return size_; }

private:
    KvSnapshotView() = default;
    void unmap();

    void* map_ = nullptr;
    std::uint64_t size_ = 0;
    std::uint32_t version_ = 0;
    std::string fingerprint_;
    std::vector<std::int32_t> tokens_;
    std::vector<Section> sections_;
};

}  // namespace osprey::memory
