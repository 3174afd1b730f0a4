#include "memory/sessions.hpp"

#include <ctime>
#include <random>

#include "memory/store.hpp"

namespace osprey::memory {
namespace {

constexpr const char* kSelect =
    "SELECT s.id, s.title, s.workspace, s.model_fingerprint, s.mode, s.status, s.parent_id, "
    "s.fork_step, s.created_at, s.updated_at, "
    "(SELECT count(*) FROM events e WHERE e.session_id = s.id) FROM sessions s ";

SessionRecord read_row(const Statement& q) {
    SessionRecord r;
    r.id = q.column_text(0);
    r.title = q.column_text(1);
    r.workspace = q.column_text(2);
    r.model_fingerprint = q.column_text(3);
    r.mode = q.column_text(4);
    r.status = parse_session_status(q.column_text(5));
    r.parent_id = q.column_optional_text(6);
    if (!q.is_null(7)) {
        r.fork_step = q.column_int(7);
    }
    r.created_at = q.column_int(8);
    r.updated_at = q.column_int(9);
    r.event_count = q.column_int(10);
    return r;
}

std::string make_id(std::int64_t ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
    std::random_device rd;
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(rd() & 0xFFFFU));
    return std::string(stamp) + "-" + suffix;
}

}  // namespace

std::string_view to_string(SessionStatus status) {
    switch (status) {
        case SessionStatus::active:
            return "active";
        case SessionStatus::completed:
            return "completed";
        case SessionStatus::failed:
            return "failed";
        case SessionStatus::interrupted:
            return "interrupted";
    }
    return "active";
}

SessionStatus parse_session_status(std::string_view text) {
    for (const auto s : {SessionStatus::active, SessionStatus::completed, SessionStatus::failed,
                         SessionStatus::interrupted}) {
        if (to_string(s) == text) {
            return s;
        }
    }
    throw DatabaseError("unknown session status '" + std::string(text) + "'");
}

std::string Sessions::create(const SessionInit& init) {
    const std::int64_t now = now_ms();
    for (int attempt = 0;; ++attempt) {
        const std::string id = make_id(now);
        auto exists = db_.prepare("SELECT 1 FROM sessions WHERE id = ?1;");
        exists.bind(1, std::string_view(id));
        if (exists.step() && attempt < 16) {
            continue;
        }
        auto insert = db_.prepare(
            "INSERT INTO sessions(id, title, workspace, model_fingerprint, mode, parent_id, "
            "fork_step, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8);");
        insert.bind(1, std::string_view(id))
            .bind(2, std::string_view(init.title))
            .bind(3, std::string_view(init.workspace))
            .bind(4, std::string_view(init.model_fingerprint))
            .bind(5, std::string_view(init.mode))
            .bind(8, now);
        if (init.parent_id) {
            insert.bind(6, std::string_view(*init.parent_id));
        } else {
            insert.bind_null(6);
        }
        if (init.fork_step) {
            insert.bind(7, *init.fork_step);
        } else {
            insert.bind_null(7);
        }
        insert.run();
        return id;
    }
}

std::optional<SessionRecord> Sessions::find(std::string_view id) {
    auto q = db_.prepare(std::string(kSelect) + "WHERE s.id = ?1;");
    q.bind(1, id);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_row(q);
}

std::vector<SessionRecord> Sessions::list(int limit) {
    auto q =
        db_.prepare(std::string(kSelect) + "ORDER BY s.updated_at DESC, s.rowid DESC LIMIT ?1;");
    q.bind(1, static_cast<std::int64_t>(limit));
    std::vector<SessionRecord> out;
    while (q.step()) {
        out.push_back(read_row(q));
    }
    return out;
}

SessionRecord Sessions::resolve(std::string_view reference) {
    if (reference == "last") {
        auto recent = list(1);
        if (recent.empty()) {
            throw DatabaseError("there are no sessions yet");
        }
        return recent.front();
    }
    if (auto exact = find(reference)) {
        return *exact;
    }
    auto q = db_.prepare(std::string(kSelect) +
                         "WHERE substr(s.id, 1, length(?1)) = ?1 ORDER BY s.id LIMIT 6;");
    q.bind(1, reference);
    std::vector<SessionRecord> matches;
    while (q.step()) {
        matches.push_back(read_row(q));
    }
    if (matches.empty()) {
        throw DatabaseError("no session matches '" + std::string(reference) +
                            "' (see `osprey sessions list`)");
    }
    if (matches.size() > 1) {
        std::string ids;
        for (const auto& m : matches) {
            ids += (ids.empty() ? "" : ", ") + m.id;
        }
        throw DatabaseError("'" + std::string(reference) + "' matches several sessions: " + ids +
                            (matches.size() > 5 ? ", ..." : ""));
    }
    return matches.front();
}

void Sessions::set_status(std::string_view id, SessionStatus status) {
    auto q = db_.prepare("UPDATE sessions SET status = ?2, updated_at = ?3 WHERE id = ?1;");
    q.bind(1, id).bind(2, to_string(status)).bind(3, now_ms()).run();
    if (db_.changes() == 0) {
        throw DatabaseError("no session '" + std::string(id) + "'");
    }
}

void Sessions::set_title(std::string_view id, std::string_view title) {
    auto q = db_.prepare("UPDATE sessions SET title = ?2, updated_at = ?3 WHERE id = ?1;");
    q.bind(1, id).bind(2, title).bind(3, now_ms()).run();
    if (db_.changes() == 0) {
        throw DatabaseError("no session '" + std::string(id) + "'");
    }
}

void Sessions::touch(std::string_view id) {
    db_.prepare("UPDATE sessions SET updated_at = ?2 WHERE id = ?1;")
        .bind(1, id)
        .bind(2, now_ms())
        .run();
}

bool Sessions::remove(std::string_view id) {
    auto q = db_.prepare("DELETE FROM sessions WHERE id = ?1;");
    q.bind(1, id).run();
    return db_.changes() > 0;
}

}  // namespace osprey::memory
