#pragma once
// Files as they were before the agent changed them, per session and step, so /rewind can put the
// workspace back exactly (contents, mode bits, and files that did not exist yet are removed).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "memory/database.hpp"

namespace osprey::memory {

struct FileRestore {
    std::filesystem::path path;          // absolute
    bool existed = false;                // false: rewinding deletes the file
    std::optional<std::string> content;  // when existed
    std::optional<std::uint32_t> mode;   // permission bits, when existed
};

class FileHistory {
public:
    explicit FileHistory(Database& db) : db_(db) {}

    // Call before the agent writes, edits, moves or deletes `path` at `step`. Records the current
    // contents (or that it does not exist). Only the first record per (session, path, step) counts.
    void record_before_change(std::string_view session_id, std::int64_t step,
                              const std::filesystem::path& path);

    // What rewinding to the start of `step` restores: for every file changed at `step` or later,
    // its state before the earliest such change.
    std::vector<FileRestore> plan_rewind(std::string_view session_id, std::int64_t step);

    // Applies a plan (atomic replace per file, mode bits restored). Throws std::runtime_error
    // naming the file that could not be restored; files before it in the plan are already restored.
    static void apply(const std::vector<FileRestore>& plan);

private:
    Database& db_;
};

}  // namespace osprey::memory
