#include <catch2/catch.hpp>

#include "memory/database.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::memory;
using osprey::test::TempDir;

namespace {

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const DatabaseError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a file database uses WAL and enforces foreign keys") {
    TempDir dir;
    Database db = Database::open(dir.path() / "osprey.db");
    auto mode = db.prepare("PRAGMA journal_mode;");
    REQUIRE(mode.step());
    CHECK(mode.column_text(0) == "wal");
    db.exec(
        "CREATE TABLE session(id INTEGER PRIMARY KEY);"
        "CREATE TABLE event(id INTEGER PRIMARY KEY, session INTEGER NOT NULL REFERENCES "
        "session(id));");
    const std::string err = error_of([&] { db.exec("INSERT INTO event(session) VALUES (42);"); });
    CHECK(err.find("FOREIGN KEY") != std::string::npos);
}

TEST_CASE("statements bind and read back every type, including NUL bytes and UTF-8") {
    Database db = Database::open_in_memory();
    db.exec("CREATE TABLE t(i INTEGER, d REAL, s TEXT, n TEXT);");
    const std::string text("tool\0result \xE2\x9C\x93", 15);
    db.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4);")
        .bind(1, std::int64_t{1} << 40)
        .bind(2, 0.25)
        .bind(3, std::string_view(text))
        .bind_null(4)
        .run();
    CHECK(db.changes() == 1);
    CHECK(db.last_insert_rowid() == 1);
    auto q = db.prepare("SELECT i, d, s, n FROM t;");
    REQUIRE(q.step());
    CHECK(q.column_int(0) == (std::int64_t{1} << 40));
    CHECK(q.column_double(1) == 0.25);
    CHECK(q.column_text(2) == text);
    CHECK(q.is_null(3));
    CHECK_FALSE(q.column_optional_text(3).has_value());
    CHECK_FALSE(q.step());
}

TEST_CASE("a transaction commits on commit() and rolls back when abandoned") {
    TempDir dir;
    const auto path = dir.path() / "t.db";
    {
        Database db = Database::open(path);
        db.exec("CREATE TABLE t(v TEXT);");
        {
            Transaction tx(db);
            db.prepare("INSERT INTO t VALUES ('kept');").run();
            tx.commit();
        }
        try {
            Transaction tx(db);
            db.prepare("INSERT INTO t VALUES ('lost');").run();
            throw std::runtime_error("tool crashed");
        } catch (const std::runtime_error&) {
        }
    }
    Database reopened = Database::open(path);
    auto q = reopened.prepare("SELECT group_concat(v) FROM t;");
    REQUIRE(q.step());
    CHECK(q.column_text(0) == "kept");
}

TEST_CASE("errors carry sqlite's message, the SQL and the file") {
    TempDir dir;
    Database db = Database::open(dir.path() / "e.db");
    const std::string syntax = error_of([&] { db.prepare("SELEC 1;"); });
    CHECK(syntax.find("syntax error") != std::string::npos);
    CHECK(syntax.find("SELEC 1;") != std::string::npos);
    CHECK(syntax.find("e.db") != std::string::npos);

    const std::string missing =
        error_of([&] { Database::open(dir.path() / "no" / "such" / "dir" / "x.db"); });
    CHECK(missing.find("cannot open database") != std::string::npos);
    CHECK(missing.find("no/such/dir/x.db") != std::string::npos);
}
