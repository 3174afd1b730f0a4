#pragma once
// Sessions: one per agent task. Each has an id, a workspace, the model it ran on, a status, and —
// for a fork — its parent and the step it was forked at.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "memory/database.hpp"

namespace osprey::memory {

enum class SessionStatus { active, completed, failed, interrupted };

std::string_view to_string(SessionStatus status);
SessionStatus parse_session_status(std::string_view text);  // throws DatabaseError on unknown text

struct SessionInit {
    std::string workspace;
    std::string title;
    std::string model_fingerprint;
    std::string mode = "think";
    std::optional<std::string> parent_id;
    std::optional<std::int64_t> fork_step;
};

struct SessionRecord {
    std::string id;
    std::string title;
    std::string workspace;
    std::string model_fingerprint;
    std::string mode;
    SessionStatus status = SessionStatus::active;
    std::optional<std::string> parent_id;
    std::optional<std::int64_t> fork_step;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::int64_t event_count = 0;
};

class Sessions {
public:
    explicit Sessions(Database& db) : db_(db) {}

    // Returns the new id: "YYYYMMDD-HHMMSS-xxxx" (UTC, 4 random hex digits; unique in the store).
    std::string create(const SessionInit& init);
    std::optional<SessionRecord> find(std::string_view id);
    // Most recently updated first.
    std::vector<SessionRecord> list(int limit = 50);
    // "last", a full id, or a unique prefix of one; throws DatabaseError naming the ambiguity or
    // absence.
    SessionRecord resolve(std::string_view reference);
    void set_status(std::string_view id, SessionStatus status);
    void set_title(std::string_view id, std::string_view title);
    void touch(std::string_view id);
    // Deletes the session with its journal, tool executions and snapshots rows; false when absent.
    bool remove(std::string_view id);

private:
    Database& db_;
};

}  // namespace osprey::memory
