// `osprey sessions ...` on a data folder filled through the memory API, driven from outside.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "memory/journal.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::memory;
using osprey::test::run_process;
using osprey::test::TempDir;

namespace {

osprey::test::ProcessResult sessions_cli(const TempDir& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {OSPREY_BINARY, "sessions"});
    args.push_back("--data-dir=" + (dir.path() / "data").string());
    return run_process(args);
}

// Two sessions: one finished with a few events, one fork of it.
std::pair<std::string, std::string> fill(const TempDir& dir) {
    Store store = Store::open(dir.path() / "data");
    Sessions sessions(store.db());
    const auto a =
        sessions.create({"/work/repo", "fix tokenizer crash", "tiny@1", "think", {}, {}});
    {
        Journal j(store.db(), a);
        j.append("user.message", R"({"text":"the tokenizer crashes on emoji"})", 0,
                 Durability::commit_now, "the tokenizer crashes on emoji");
        j.append("text.delta", R"({"text":"Let me "})", 1, Durability::batched);
        j.append("text.delta", R"({"text":"look."})", 1, Durability::batched);
        j.append("tool.call", R"({"name":"read","arguments":{"path":"a.cpp"}})", 1,
                 Durability::commit_now);
    }
    sessions.set_status(a, SessionStatus::completed);
    const auto b = sessions.create({"/work/repo", "", "tiny@1", "think", a, 1});
    return {a, b};
}

}  // namespace

TEST_CASE("sessions list and show, as text and JSON") {
    TempDir dir;
    const auto [a, b] = fill(dir);
    auto r = sessions_cli(dir, {"list"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find(a) != std::string::npos);
    CHECK(r.out.find("fix tokenizer crash") != std::string::npos);
    CHECK(r.out.find("completed") != std::string::npos);
    r = sessions_cli(dir, {"--json"});
    REQUIRE(r.exit_code == 0);
    const auto list = nlohmann::json::parse(r.out);
    REQUIRE(list.size() == 2);
    CHECK(list[0]["id"] == b);  // most recent first
    CHECK(list[0]["parent"] == a);
    CHECK(list[1]["events"] == 4);

    r = sessions_cli(dir, {"show", a.substr(0, a.size() - 2), "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto show = nlohmann::json::parse(r.out);
    CHECK(show["id"] == a);
    REQUIRE(show["journal"].size() == 4);
    CHECK(show["journal"][3]["payload"]["name"] == "read");
}

TEST_CASE("sessions search and export") {
    TempDir dir;
    const auto [a, b] = fill(dir);
    auto r = sessions_cli(dir, {"search", "emoji", "tokenizer"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find(a + " #0 user.message") != std::string::npos);
    CHECK(sessions_cli(dir, {"search", "nothing-like-this"}).out == "no matches\n");

    r = sessions_cli(dir, {"export", a, "--format", "md"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("# Session " + a + ": fix tokenizer crash") != std::string::npos);
    CHECK(r.out.find("## text (step 1)\n\nLet me look.\n") != std::string::npos);
    CHECK(r.out.find("\"name\": \"read\"") != std::string::npos);

    const auto file = (dir.path() / "out.jsonl").string();
    r = sessions_cli(dir, {"export", a, "--output", file});
    REQUIRE(r.exit_code == 0);
    std::ifstream in(file);
    std::string line;
    std::vector<nlohmann::json> lines;
    while (std::getline(in, line)) {
        lines.push_back(nlohmann::json::parse(line));
    }
    REQUIRE(lines.size() == 5);
    CHECK(lines[0]["session"]["id"] == a);
    CHECK(lines[4]["seq"] == 3);
}

TEST_CASE("sessions errors: unknown or ambiguous ids, bad options, delete") {
    TempDir dir;
    const auto [a, b] = fill(dir);
    auto r = sessions_cli(dir, {"show", "1999"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no session matches '1999'") != std::string::npos);
    r = sessions_cli(dir, {"export", a, "--format", "pdf"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown --format 'pdf'") != std::string::npos);
    CHECK(sessions_cli(dir, {"show"}).exit_code == 2);
    CHECK(sessions_cli(dir, {"list", "--limit", "zero"}).exit_code == 2);
    r = sessions_cli(dir, {"delete", a.substr(0, 8)});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("delete takes a full id") != std::string::npos);
    r = sessions_cli(dir, {"delete", a});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "deleted " + a + "\n");
    CHECK(nlohmann::json::parse(sessions_cli(dir, {"list", "--json"}).out).size() == 1);
}

TEST_CASE("reading commands on a missing data folder create nothing") {
    TempDir dir;
    auto r = sessions_cli(dir, {"list"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "no sessions yet\n");
    r = sessions_cli(dir, {"show", "last"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("there are no sessions yet") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path() / "data"));
}
