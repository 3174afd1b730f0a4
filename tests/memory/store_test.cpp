#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "memory/migrations.hpp"
#include "memory/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::memory;
using osprey::test::TempDir;

namespace {

std::vector<std::string> table_names(Database& db) {
    auto q = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table') ORDER BY name;");
    std::vector<std::string> out;
    while (q.step()) {
        out.push_back(q.column_text(0));
    }
    return out;
}

}  // namespace

TEST_CASE("migrations are numbered 1..N without gaps") {
    int expected = 1;
    for (const auto& m : migrations()) {
        CHECK(m.version == expected++);
        CHECK_FALSE(m.name.empty());
    }
    CHECK(latest_schema_version() == expected - 1);
}

TEST_CASE("migration 1 creates the store's tables on an empty database") {
    Database db = Database::open_in_memory();
    CHECK(schema_version(db) == 0);
    migrate(db, 1);
    CHECK(schema_version(db) == 1);
    const auto tables = table_names(db);
    for (const char* t : {"sessions", "events", "tool_executions", "blobs", "file_snapshots",
                          "kv_snapshots", "project_notes", "search_index"}) {
        INFO(t);
        CHECK(std::find(tables.begin(), tables.end(), t) != tables.end());
    }
    // Migrating again is a no-op.
    migrate(db);
    CHECK(schema_version(db) == latest_schema_version());
}

TEST_CASE("every migration applies on top of the previous one") {
    Database db = Database::open_in_memory();
    for (const auto& m : migrations()) {
        INFO("migration " << m.version);
        REQUIRE_NOTHROW(migrate(db, m.version));
        CHECK(schema_version(db) == m.version);
    }
}

TEST_CASE("a database from a newer Osprey is refused, untouched") {
    TempDir dir;
    {
        Database db = Database::open(dir.path() / "osprey.db");
        db.exec("PRAGMA user_version = " + std::to_string(latest_schema_version() + 1) + ";");
    }
    try {
        Store::open(dir.path());
        FAIL("opened a newer database");
    } catch (const DatabaseError& e) {
        CHECK(std::string(e.what()).find("created by a newer Osprey") != std::string::npos);
    }
    Database db = Database::open(dir.path() / "osprey.db");
    CHECK(schema_version(db) == latest_schema_version() + 1);
}

TEST_CASE("the store creates a private data folder and reopens it") {
    TempDir dir;
    const auto data = dir.path() / "nested" / "osprey";
    {
        Store store = Store::open(data);
        CHECK(store.data_dir() == data);
        store.db().exec(
            "INSERT INTO sessions(id, workspace, created_at, updated_at) VALUES ('s', '/w', 1, "
            "1);");
    }
    struct stat st {};
    REQUIRE(stat(data.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    Store again = Store::open(data);
    auto q = again.db().prepare("SELECT count(*) FROM sessions;");
    q.step();
    CHECK(q.column_int(0) == 1);
}

TEST_CASE("the default data folder follows XDG_DATA_HOME, then HOME") {
    const char* old_xdg = std::getenv("XDG_DATA_HOME");
    const char* old_home = std::getenv("HOME");
    const std::string saved_xdg = old_xdg ? old_xdg : "";
    const std::string saved_home = old_home ? old_home : "";
    setenv("XDG_DATA_HOME", "/data/x", 1);
    CHECK(default_data_dir() == "/data/x/osprey");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(default_data_dir() == "/home/u/.local/share/osprey");
    unsetenv("HOME");
    CHECK_THROWS_AS(default_data_dir(), DatabaseError);
    if (old_xdg) {
        setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
    }
    if (old_home) {
        setenv("HOME", saved_home.c_str(), 1);
    }
}
