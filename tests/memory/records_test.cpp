#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "memory/file_history.hpp"
#include "memory/migrations.hpp"
#include "memory/notes.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "memory/tool_log.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::memory;
using osprey::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("a tool call is started once; unfinished ones become interrupted on resume") {
    TempDir dir;
    Store store = Store::open(dir.path());
    const auto sid = Sessions(store.db()).create({"/w", "", "", "think", {}, {}});
    ToolLog log(store.db());
    const auto a = log.begin(sid, 3, "read", R"({"path":"a"})");
    log.finish(a, ToolStatus::ok, "contents", std::nullopt, 12);
    log.begin(sid, 5, "shell", R"({"command":"make"})");
    CHECK_THROWS_WITH(log.begin(sid, 5, "shell", R"({"command":"make"})"),
                      Catch::Contains("was already started (running): it must not run twice"));
    CHECK_THROWS_AS(log.begin(sid, 6, "shell", "{bad json"), DatabaseError);

    const auto interrupted = log.interrupt_unfinished(sid);
    REQUIRE(interrupted.size() == 1);
    CHECK(interrupted[0].call_seq == 5);
    CHECK(interrupted[0].status == ToolStatus::interrupted);
    const auto stored = log.find(sid, 5);
    REQUIRE(stored);
    CHECK(stored->status == ToolStatus::interrupted);
    CHECK(stored->result->find("not re-run") != std::string::npos);
    const auto done = log.find(sid, 3);
    REQUIRE(done);
    CHECK(done->status == ToolStatus::ok);
    CHECK(done->result == "contents");
    CHECK(done->duration_ms == 12);
    CHECK_FALSE(done->exit_code.has_value());
    CHECK(log.interrupt_unfinished(sid).empty());
}

TEST_CASE("rewind restores contents and modes and removes files created since") {
    TempDir dir;
    Store store = Store::open(dir.path() / "data");
    const auto sid = Sessions(store.db()).create({"/w", "", "", "think", {}, {}});
    FileHistory history(store.db());
    const auto ws = dir.path() / "ws";
    fs::create_directories(ws);
    write_file(ws / "a.txt", "original a");
    ::chmod((ws / "a.txt").c_str(), 0750);
    write_file(ws / "b.txt", "original b");

    // Step 2: edit a, create c. Step 4: edit a again, delete b.
    history.record_before_change(sid, 2, ws / "a.txt");
    write_file(ws / "a.txt", "a v2");
    ::chmod((ws / "a.txt").c_str(), 0644);
    history.record_before_change(sid, 2, ws / "c.txt");
    write_file(ws / "c.txt", "new c");
    history.record_before_change(sid, 2, ws / "a.txt");  // same step again: ignored
    history.record_before_change(sid, 4, ws / "a.txt");
    write_file(ws / "a.txt", "a v3");
    history.record_before_change(sid, 4, ws / "b.txt");
    fs::remove(ws / "b.txt");

    // Rewind to step 4: a back to v2, b back; c stays (created before step 4).
    auto plan = history.plan_rewind(sid, 4);
    REQUIRE(plan.size() == 2);
    FileHistory::apply(plan);
    CHECK(read_file(ws / "a.txt") == "a v2");
    CHECK(read_file(ws / "b.txt") == "original b");
    CHECK(fs::exists(ws / "c.txt"));

    // Rewind to step 2: everything as before the session touched it.
    plan = history.plan_rewind(sid, 2);
    REQUIRE(plan.size() == 3);
    FileHistory::apply(plan);
    CHECK(read_file(ws / "a.txt") == "original a");
    struct stat st {};
    REQUIRE(::stat((ws / "a.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0750);
    CHECK(read_file(ws / "b.txt") == "original b");
    CHECK_FALSE(fs::exists(ws / "c.txt"));
    CHECK(history.plan_rewind(sid, 5).empty());
}

TEST_CASE("project notes are kept per workspace") {
    Database db = Database::open_in_memory();
    migrate(db);
    ProjectNotes notes(db);
    const auto a = notes.add("/repo", "tests run with scripts/test");
    notes.add("/repo", "never edit generated files");
    notes.add("/other", "unrelated");
    auto list = notes.list("/repo");
    REQUIRE(list.size() == 2);
    CHECK(list[0].text == "tests run with scripts/test");
    notes.update(a, "tests: scripts/test -L unit");
    CHECK(notes.list("/repo")[0].text == "tests: scripts/test -L unit");
    notes.remove(a);
    CHECK(notes.list("/repo").size() == 1);
    CHECK_THROWS_WITH(notes.remove(a), Catch::Contains("no project note #"));
    CHECK_THROWS_WITH(notes.add("/repo", "  \n"), Catch::Contains("needs some text"));
}
