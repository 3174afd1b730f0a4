#include "memory/migrations.hpp"

#include <array>
#include <string>

namespace osprey::memory {
namespace {

// Times are unix milliseconds. Ids of sessions are text ("20261201-203612-a3f9").
constexpr std::string_view kV1 = R"sql(
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    workspace TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT 'think',
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'completed', 'failed', 'interrupted')),
    parent_id TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    fork_step INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_update ON sessions(updated_at);

-- The append-only journal: every event of the agent's stream, in order, before it is acted on.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    step INTEGER NOT NULL DEFAULT 0,
    type TEXT NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_at INTEGER NOT NULL,
    UNIQUE (session_id, seq)
);

CREATE TABLE tool_executions (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    call_seq INTEGER NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL CHECK (json_valid(arguments)),
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error', 'denied', 'interrupted')),
    result TEXT,
    exit_code INTEGER,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER,
    UNIQUE (session_id, call_seq)
);

-- Content-addressed file contents (xxh3-128), shared by every snapshot that has the same bytes.
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    content BLOB NOT NULL
) WITHOUT ROWID;

-- A file as it was before the agent changed it at `step` (existed = 0: it did not exist).
CREATE TABLE file_snapshots (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    path TEXT NOT NULL,
    existed INTEGER NOT NULL CHECK (existed IN (0, 1)),
    blob_hash TEXT REFERENCES blobs(hash),
    mode INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX file_snapshots_by_session ON file_snapshots(session_id, step);

CREATE TABLE kv_snapshots (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    file_path TEXT NOT NULL UNIQUE,
    token_count INTEGER NOT NULL,
    prefix_hash TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL,
    checksum TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL
);
CREATE INDEX kv_snapshots_by_session ON kv_snapshots(session_id, token_count);

-- Short notes the model keeps per workspace (the `memory` tool), shown in later system prompts.
CREATE TABLE project_notes (
    id INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX project_notes_by_workspace ON project_notes(workspace);

-- Full-text search over messages and tool results; rowid = events.id.
CREATE VIRTUAL TABLE search_index USING fts5(text, tokenize = 'unicode61');
CREATE TRIGGER events_forget_search AFTER DELETE ON events BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
END;
)sql";

constexpr std::array<Migration, 1> kMigrations = {{
    {1, "sessions, journal, tool executions, blobs, snapshots, notes, search", kV1},
}};

}  // namespace

std::span<const Migration> migrations() {
    return kMigrations;
}

int latest_schema_version() {
    return kMigrations.back().version;
}

int schema_version(Database& db) {
    auto q = db.prepare("PRAGMA user_version;");
    q.step();
    return static_cast<int>(q.column_int(0));
}

void migrate(Database& db, int target) {
    const int latest = latest_schema_version();
    if (target < 0) {
        target = latest;
    }
    const int current = schema_version(db);
    if (current > latest) {
        throw DatabaseError(db.path().string() + " has schema version " + std::to_string(current) +
                            ", created by a newer Osprey (this build knows up to " +
                            std::to_string(latest) + "): upgrade Osprey or use another --data-dir");
    }
    for (const Migration& m : kMigrations) {
        if (m.version <= current || m.version > target) {
            continue;
        }
        Transaction tx(db);
        try {
            db.exec(m.sql);
        } catch (const DatabaseError& e) {
            throw DatabaseError("schema migration " + std::to_string(m.version) + " (" +
                                std::string(m.name) + ") failed: " + e.what());
        }
        db.exec("PRAGMA user_version = " + std::to_string(m.version) + ";");
        tx.commit();
    }
}

}  // namespace osprey::memory
