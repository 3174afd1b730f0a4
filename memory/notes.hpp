#pragma once
// Project memory: short notes the model saves per workspace (the `memory` tool), shown in the
// system prompt of later sessions in that workspace; the user can list, edit and delete them.

#include <cstdint>
#include <string>
#include <vector>

#include "memory/database.hpp"

namespace osprey::memory {

struct ProjectNote {
    std::int64_t id = 0;
    std::string workspace;
    std::string text;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

class ProjectNotes {
public:
    explicit ProjectNotes(Database& db) : db_(db) {}

    // Throws DatabaseError for empty text.
    std::int64_t add(std::string_view workspace, std::string_view text);
    std::vector<ProjectNote> list(std::string_view workspace);
    // Throw DatabaseError naming the id when there is no such note.
    void update(std::int64_t id, std::string_view text);
    void remove(std::int64_t id);

private:
    Database& db_;
};

}  // namespace osprey::memory
