#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "memory/journal.hpp"
#include "memory/migrations.hpp"
#include "memory/sessions.hpp"

using namespace osprey::memory;

namespace {

Database fresh() {
    Database db = Database::open_in_memory();
    migrate(db);
    return db;
}

}  // namespace

TEST_CASE("sessions are created with readable unique ids and read back") {
    Database db = fresh();
    Sessions sessions(db);
    std::set<std::string> ids;
    for (int i = 0; i < 20; ++i) {
        ids.insert(sessions.create({"/work/repo", "task", "v4-flash@abc", "think", {}, {}}));
    }
    CHECK(ids.size() == 20);
    const std::string id = *ids.begin();
    CHECK(std::regex_match(id, std::regex("[0-9]{8}-[0-9]{6}-[0-9a-f]{4}")));
    const auto r = sessions.find(id);
    REQUIRE(r.has_value());
    CHECK(r->workspace == "/work/repo");
    CHECK(r->model_fingerprint == "v4-flash@abc");
    CHECK(r->status == SessionStatus::active);
    CHECK_FALSE(r->parent_id.has_value());
    CHECK(r->event_count == 0);
    CHECK_FALSE(sessions.find("nope").has_value());
}

TEST_CASE("forks record their parent and step; deleting the parent keeps the fork") {
    Database db = fresh();
    Sessions sessions(db);
    const auto parent = sessions.create({"/w", "parent", "", "think", {}, {}});
    const auto child = sessions.create({"/w", "child", "", "think", parent, 7});
    auto r = sessions.find(child);
    REQUIRE(r);
    CHECK(r->parent_id == parent);
    CHECK(r->fork_step == 7);
    CHECK(sessions.remove(parent));
    r = sessions.find(child);
    REQUIRE(r);
    CHECK_FALSE(r->parent_id.has_value());
    CHECK_FALSE(sessions.remove(parent));
}

TEST_CASE("resolve accepts last, full ids and unique prefixes, and names ambiguity") {
    Database db = fresh();
    Sessions sessions(db);
    CHECK_THROWS_WITH(sessions.resolve("last"), Catch::Contains("no sessions yet"));
    db.exec(
        "INSERT INTO sessions(id, workspace, created_at, updated_at) VALUES "
        "('20261201-100000-aaaa', '/w', 1, 10), ('20261201-100000-aabb', '/w', 2, 30), "
        "('20261202-090000-cccc', '/w', 3, 20);");
    CHECK(sessions.resolve("last").id == "20261201-100000-aabb");
    CHECK(sessions.resolve("20261202").id == "20261202-090000-cccc");
    CHECK(sessions.resolve("20261201-100000-aaaa").id == "20261201-100000-aaaa");
    CHECK_THROWS_WITH(sessions.resolve("20261201-100000-aa"),
                      Catch::Contains("matches several sessions") &&
                          Catch::Contains("20261201-100000-aaaa, 20261201-100000-aabb"));
    CHECK_THROWS_WITH(sessions.resolve("2027"), Catch::Contains("no session matches '2027'"));
}

TEST_CASE("status and title updates, list order, and cascade on delete") {
    Database db = fresh();
    Sessions sessions(db);
    const auto a = sessions.create({"/w", "a", "", "think", {}, {}});
    {
        Journal journal(db, a);
        journal.append("turn.started", "{}", 0, Durability::commit_now);
    }
    sessions.set_status(a, SessionStatus::completed);
    sessions.set_title(a, "fixed the bug");
    const auto r = sessions.find(a);
    REQUIRE(r);
    CHECK(r->status == SessionStatus::completed);
    CHECK(r->title == "fixed the bug");
    CHECK(r->event_count == 1);
    CHECK_THROWS_WITH(sessions.set_status("missing", SessionStatus::failed),
                      Catch::Contains("no session 'missing'"));
    CHECK(sessions.list().size() == 1);
    CHECK(sessions.remove(a));
    CHECK(read_journal(db, a).empty());
}
