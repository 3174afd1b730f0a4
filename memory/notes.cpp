#include "memory/notes.hpp"

#include "memory/store.hpp"

namespace osprey::memory {
namespace {

void require_text(std::string_view text) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        throw DatabaseError("a project note needs some text");
    }
}

}  // namespace

std::int64_t ProjectNotes::add(std::string_view workspace, std::string_view text) {
    require_text(text);
    const std::int64_t now = now_ms();
    db_.prepare(
           "INSERT INTO project_notes(workspace, text, created_at, updated_at) "
           "VALUES (?1, ?2, ?3, ?3);")
        .bind(1, workspace)
        .bind(2, text)
        .bind(3, now)
        .run();
    return db_.last_insert_rowid();
}

std::vector<ProjectNote> ProjectNotes::list(std::string_view workspace) {
    auto q = db_.prepare(
        "SELECT id, workspace, text, created_at, updated_at FROM project_notes "
        "WHERE workspace = ?1 ORDER BY id;");
    q.bind(1, workspace);
    std::vector<ProjectNote> out;
    while (q.step()) {
        out.push_back({q.column_int(0), q.column_text(1), q.column_text(2), q.column_int(3),
                       q.column_int(4)});
    }
    return out;
}

void ProjectNotes::update(std::int64_t id, std::string_view text) {
    require_text(text);
    db_.prepare("UPDATE project_notes SET text = ?2, updated_at = ?3 WHERE id = ?1;")
        .bind(1, id)
        .bind(2, text)
        .bind(3, now_ms())
        .run();
    if (db_.changes() == 0) {
        throw DatabaseError("no project note #" + std::to_string(id));
    }
}

void ProjectNotes::remove(std::int64_t id) {
    db_.prepare("DELETE FROM project_notes WHERE id = ?1;").bind(1, id).run();
    if (db_.changes() == 0) {
        throw DatabaseError("no project note #" + std::to_string(id));
    }
}

}  // namespace osprey::memory
