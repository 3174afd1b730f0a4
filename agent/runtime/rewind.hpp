#pragma once
// Rewind: a session goes back to the end of an earlier step. The workspace files the agent
// changed after that step are restored from the file history (memory/file_history.hpp), and an
// agent.rewind record in the journal makes every later resume continue from that step (the
// journal itself stays append-only: nothing is deleted). A live session also truncates its KV
// state (model::Session::truncate); a resumed one restores the shorter context.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "memory/database.hpp"
#include "memory/file_history.hpp"
#include "memory/journal.hpp"

namespace osprey::agent {

struct RewindPlan {
    std::string session_id;
    std::int64_t to_step = 0;
    std::int64_t from_step = 0;  // the session's last step now
    std::vector<memory::FileRestore> files;
};

// What rewinding `session_id` to the end of `to_step` does. Throws std::runtime_error when the
// session has no such step, or `to_step` is not before its last one.
RewindPlan plan_rewind(memory::Database& db, const std::string& session_id, std::int64_t to_step);

// One line per file, relative to `workspace` when inside it: "restore a.txt", "delete b.txt".
std::string describe(const RewindPlan& plan, const std::filesystem::path& workspace);

// Restores the files, then journals the rewind (committed at once).
void apply_rewind(const RewindPlan& plan, memory::Journal& journal);

}  // namespace osprey::agent
