#include "memory/tool_log.hpp"

#include "memory/store.hpp"

namespace osprey::memory {
namespace {

constexpr const char* kColumns =
    "SELECT id, session_id, call_seq, tool, arguments, status, result, exit_code, started_at, "
    "duration_ms FROM tool_executions ";

ToolStatus parse_status(std::string_view text) {
    for (const auto s : {ToolStatus::running, ToolStatus::ok, ToolStatus::error, ToolStatus::denied,
                         ToolStatus::interrupted}) {
        if (to_string(s) == text) {
            return s;
        }
    }
    throw DatabaseError("unknown tool status '" + std::string(text) + "'");
}

ToolExecution read_row(const Statement& q) {
    ToolExecution t;
    t.id = q.column_int(0);
    t.session_id = q.column_text(1);
    t.call_seq = q.column_int(2);
    t.tool = q.column_text(3);
    t.arguments = q.column_text(4);
    t.status = parse_status(q.column_text(5));
    t.result = q.column_optional_text(6);
    if (!q.is_null(7)) {
        t.exit_code = q.column_int(7);
    }
    t.started_at = q.column_int(8);
    if (!q.is_null(9)) {
        t.duration_ms = q.column_int(9);
    }
    return t;
}

}  // namespace

std::string_view to_string(ToolStatus status) {
    switch (status) {
        case ToolStatus::running:
            return "running";
        case ToolStatus::ok:
            return "ok";
        case ToolStatus::error:
            return "error";
        case ToolStatus::denied:
            return "denied";
        case ToolStatus::interrupted:
            return "interrupted";
    }
    return "running";
}

std::int64_t ToolLog::begin(std::string_view session_id, std::int64_t call_seq,
                            std::string_view tool, std::string_view arguments_json) {
    if (auto existing = find(session_id, call_seq)) {
        throw DatabaseError("tool call #" + std::to_string(call_seq) + " (" + existing->tool +
                            ") of session " + std::string(session_id) + " was already started (" +
                            std::string(to_string(existing->status)) + "): it must not run twice");
    }
    db_.prepare(
           "INSERT INTO tool_executions(session_id, call_seq, tool, arguments, status, started_at) "
           "VALUES (?1, ?2, ?3, ?4, 'running', ?5);")
        .bind(1, session_id)
        .bind(2, call_seq)
        .bind(3, tool)
        .bind(4, arguments_json)
        .bind(5, now_ms())
        .run();
    return db_.last_insert_rowid();
}

void ToolLog::finish(std::int64_t id, ToolStatus status, std::string_view result,
                     std::optional<std::int64_t> exit_code, std::int64_t duration_ms) {
    auto q = db_.prepare(
        "UPDATE tool_executions SET status = ?2, result = ?3, exit_code = ?4, duration_ms = ?5 "
        "WHERE id = ?1;");
    q.bind(1, id).bind(2, to_string(status)).bind(3, result).bind(5, duration_ms);
    if (exit_code) {
        q.bind(4, *exit_code);
    } else {
        q.bind_null(4);
    }
    q.run();
    if (db_.changes() == 0) {
        throw DatabaseError("no tool execution #" + std::to_string(id));
    }
}

std::optional<ToolExecution> ToolLog::find(std::string_view session_id, std::int64_t call_seq) {
    auto q = db_.prepare(std::string(kColumns) + "WHERE session_id = ?1 AND call_seq = ?2;");
    q.bind(1, session_id).bind(2, call_seq);
    if (!q.step()) {
        return std::nullopt;
    }
    return read_row(q);
}

std::vector<ToolExecution> ToolLog::interrupt_unfinished(std::string_view session_id) {
    std::vector<ToolExecution> out;
    {
        auto q = db_.prepare(std::string(kColumns) +
                             "WHERE session_id = ?1 AND status = 'running' ORDER BY call_seq;");
        q.bind(1, session_id);
        while (q.step()) {
            out.push_back(read_row(q));
        }
    }
    db_.prepare(
           "UPDATE tool_executions SET status = 'interrupted', "
           "result = 'interrupted: Osprey stopped while the tool was running; it was not re-run' "
           "WHERE session_id = ?1 AND status = 'running';")
        .bind(1, session_id)
        .run();
    for (auto& t : out) {
        t.status = ToolStatus::interrupted;
    }
    return out;
}

}  // namespace osprey::memory
