#include "memory/journal.hpp"

#include "memory/store.hpp"

namespace osprey::memory {

Journal::Journal(Database& db, std::string session_id, std::chrono::milliseconds batch_window)
    : db_(db), session_id_(std::move(session_id)), window_(batch_window) {
    auto q = db_.prepare("SELECT coalesce(max(seq) + 1, 0) FROM events WHERE session_id = ?1;");
    q.bind(1, std::string_view(session_id_));
    q.step();
    next_seq_ = q.column_int(0);
}

Journal::~Journal() {
    try {
        flush();
    } catch (const DatabaseError&) {
        // Destructors must not throw; the events stay uncommitted exactly as after a crash.
    }
}

std::int64_t Journal::append(std::string_view type, std::string_view payload, std::int64_t step,
                             Durability durability, std::optional<std::string_view> search_text) {
    if (!in_batch_) {
        db_.exec("BEGIN IMMEDIATE;");
        in_batch_ = true;
        batch_started_ = std::chrono::steady_clock::now();
    }
    const std::int64_t seq = next_seq_;
    try {
        auto insert = db_.prepare(
            "INSERT INTO events(session_id, seq, step, type, payload, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6);");
        insert.bind(1, std::string_view(session_id_))
            .bind(2, seq)
            .bind(3, step)
            .bind(4, type)
            .bind(5, payload)
            .bind(6, now_ms())
            .run();
        if (search_text && !search_text->empty()) {
            db_.prepare("INSERT INTO search_index(rowid, text) VALUES (?1, ?2);")
                .bind(1, db_.last_insert_rowid())
                .bind(2, *search_text)
                .run();
        }
    } catch (const DatabaseError&) {
        // Keep what was batched before this event: commit it, then report the bad event.
        commit_batch();
        throw;
    }
    ++next_seq_;
    if (durability == Durability::commit_now ||
        std::chrono::steady_clock::now() - batch_started_ >= window_) {
        commit_batch();
    }
    return seq;
}

void Journal::flush() {
    if (in_batch_) {
        commit_batch();
    }
}

void Journal::commit_batch() {
    in_batch_ = false;
    db_.exec("COMMIT;");
}

std::vector<JournalEvent> read_journal(Database& db, std::string_view session_id,
                                       std::int64_t from_seq) {
    auto q = db.prepare(
        "SELECT seq, step, type, payload, created_at FROM events "
        "WHERE session_id = ?1 AND seq >= ?2 ORDER BY seq;");
    q.bind(1, session_id).bind(2, from_seq);
    std::vector<JournalEvent> out;
    while (q.step()) {
        out.push_back({q.column_int(0), q.column_int(1), q.column_text(2), q.column_text(3),
                       q.column_int(4)});
    }
    return out;
}

std::vector<SearchHit> search_journal(Database& db, std::string_view query, int limit) {
    // Plain words, not FTS5 syntax: each word becomes a quoted term, all of which must match, so
    // "parse(" or "a-b" never turns into a syntax error.
    std::string fts;
    std::string word;
    const auto add_word = [&] {
        if (word.empty()) {
            return;
        }
        fts += (fts.empty() ? "\"" : " \"");
        for (const char c : word) {
            fts += c == '"' ? std::string("\"\"") : std::string(1, c);
        }
        fts += '"';
        word.clear();
    };
    for (const char c : query) {
        if (c == ' ' || c == '\t' || c == '\n') {
            add_word();
        } else {
            word += c;
        }
    }
    add_word();
    if (fts.empty()) {
        return {};
    }
    auto q = db.prepare(
        "SELECT e.session_id, e.seq, e.type, snippet(search_index, 0, '[', ']', '...', 12) "
        "FROM search_index JOIN events e ON e.id = search_index.rowid "
        "WHERE search_index MATCH ?1 ORDER BY rank LIMIT ?2;");
    q.bind(1, std::string_view(fts)).bind(2, static_cast<std::int64_t>(limit));
    std::vector<SearchHit> out;
    while (q.step()) {
        out.push_back({q.column_text(0), q.column_int(1), q.column_text(2), q.column_text(3)});
    }
    return out;
}

}  // namespace osprey::memory
