#pragma once
// The store's schema as an ordered list of forward migrations. The database records how far it has
// come in PRAGMA user_version; opening applies the missing ones, each in its own transaction.

#include <span>
#include <string_view>

#include "memory/database.hpp"

namespace osprey::memory {

struct Migration {
    int version;  // 1, 2, 3 ... with no gaps; user_version after it is applied
    std::string_view name;
    std::string_view sql;
};

// All migrations this build knows, in order.
std::span<const Migration> migrations();

// The schema version this build writes.
int latest_schema_version();

int schema_version(Database& db);

// Applies every migration above the database's version, up to `target` (default: all). Throws
// DatabaseError when the database is newer than this build ("created by a newer Osprey").
void migrate(Database& db, int target = -1);

}  // namespace osprey::memory
