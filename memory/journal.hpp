#pragma once
// The append-only event journal of one session: every event of the agent's stream, numbered 0, 1, 2
// ... with no gap, written before the agent acts on it. Events that must survive a crash before the
// next action (a tool call before the tool runs, a tool result before it reaches the model) are
// committed at once; token deltas may be batched so decoding is not slowed by fsyncs.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "memory/database.hpp"

namespace osprey::memory {

enum class Durability {
    commit_now,  // committed (with any batched events before it) before append() returns
    batched,     // committed within the batch window, at the next commit_now, or at flush()
};

struct JournalEvent {
    std::int64_t seq = 0;
    std::int64_t step = 0;
    std::string type;     // "tool.call", "text.delta", ... (docs/events.md)
    std::string payload;  // a JSON document
    std::int64_t created_at = 0;
};

class Journal {
public:
    // Continues the session's journal after its last committed event.
    Journal(Database& db, std::string session_id,
            std::chrono::milliseconds batch_window = std::chrono::milliseconds(50));
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;
    // Commits what is batched (an event appended is never dropped by a clean shutdown).
    ~Journal();

    // Appends and returns the event's seq. `payload` must be valid JSON (DatabaseError otherwise).
    // `search_text`, when given, is indexed for `osprey sessions search`.
    std::int64_t append(std::string_view type, std::string_view payload, std::int64_t step,
                        Durability durability,
                        std::optional<std::string_view> search_text = std::nullopt);
    void flush();

    std::int64_t next_seq() const { return next_seq_; }
    const std::string& session_id() const { return session_id_; }

private:
    void commit_batch();

    Database& db_;
    std::string session_id_;
    std::chrono::milliseconds window_;
    std::int64_t next_seq_ = 0;
    bool in_batch_ = false;
    std::chrono::steady_clock::time_point batch_started_{};
};

// The committed events of a session with seq >= from_seq, in order.
std::vector<JournalEvent> read_journal(Database& db, std::string_view session_id,
                                       std::int64_t from_seq = 0);

struct SearchHit {
    std::string session_id;
    std::int64_t seq = 0;
    std::string type;
    std::string snippet;  // with the matched terms in [brackets]
};

// Full-text search over indexed event text: every word of `query` must occur (words are matched as
// tokens, case-insensitively; no query syntax). Best matches first.
std::vector<SearchHit> search_journal(Database& db, std::string_view query, int limit = 20);

}  // namespace osprey::memory
