// `osprey tool` driven from outside: JSON out, exit 0 / 1 (tool failed) / 2 (bad arguments).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/run_process.hpp"
#include "tests/support/temp_dir.hpp"

using osprey::test::run_process;

namespace {

osprey::test::ProcessResult osprey_tool(std::vector<std::string> args) {
    args.insert(args.begin(), {OSPREY_BINARY, "tool"});
    return run_process(args);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("osprey tool --list prints every tool's schema") {
    const auto r = osprey_tool({"--list"});
    REQUIRE(r.exit_code == 0);
    const auto list = nlohmann::json::parse(r.out);
    std::set<std::string> names;
    for (const auto& tool : list) {
        names.insert(tool.at("name").get<std::string>());
        CHECK(tool.at("parameters").at("type") == "object");
        CHECK_FALSE(tool.at("description").get<std::string>().empty());
    }
    for (const char* name :
         {"read",      "write",        "edit",       "apply_patch", "list",       "glob",
          "grep",      "shell",        "git_status", "git_diff",    "git_log",    "git_show",
          "git_blame", "git_branches", "git_commit", "outline",     "definition", "references",
          "repo_map",  "todo",         "memory"}) {
        CHECK(names.count(name) == 1);
    }
}

TEST_CASE("osprey tool runs a tool and prints its structured result") {
    osprey::test::TempDir dir;
    std::ofstream(dir.path() / "a.txt") << "one\ntwo\n";
    auto r = osprey_tool(
        {"read", "--root", dir.path().string(), "--args", R"({"path": "a.txt", "start_line": 2})"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("tool") == "read");
    CHECK(j.at("result").at("content") == "two\n");
    CHECK(j.at("text") == "     2\ttwo\n");

    r = osprey_tool(
        {"write", "--root", dir.path().string(), "--args", R"({"path": "b.txt", "content": "x"})"});
    CHECK(r.exit_code == 0);
    r = osprey_tool(
        {"read", "--root", dir.path().string(), "--text", "--args", R"({"path": "b.txt"})"});
    CHECK(r.out == "     1\tx\n");
    r = osprey_tool({"write", "--read-only", "--root", dir.path().string(), "--args",
                     R"({"path": "c.txt", "content": "x"})"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "needs write permission"));
}

TEST_CASE("osprey tool: exit 2 for bad arguments, 1 for tool failures") {
    osprey::test::TempDir dir;
    const std::string root = dir.path().string();
    struct Case {
        std::vector<std::string> args;
        int code;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"read", "--root", root, "--args", "{not json"}, 2, "--args is not valid JSON"},
        {{"read", "--root", root, "--args", R"({"path": 3})"}, 2, "path: must be string"},
        {{"read", "--root", root}, 2, "missing required property 'path'"},
        {{"raed", "--root", root}, 2, "did you mean 'read'"},
        {{}, 2, "missing the tool name"},
        {{"read", "--root", root + "/nope", "--args", R"({"path": "a"})"}, 2, "--root"},
        {{"read", "--root", root, "--args", R"({"path": "missing.txt"})"}, 1, "no such file"},
        {{"read", "--root", root, "--args", R"({"path": "../x"})"}, 1, "outside the workspace"},
    };
    for (const auto& c : cases) {
        const auto r = osprey_tool(c.args);
        INFO(r.err);
        CHECK(r.exit_code == c.code);
        CHECK(contains(r.err, c.message));
        CHECK(r.out.empty());
    }
}

TEST_CASE("osprey tool drives code navigation and git end to end") {
    osprey::test::TempDir dir;
    std::ofstream(dir.path() / "m.py") << "class Store:\n    def get(self):\n        return 1\n";
    const std::string root = dir.path().string();
    const std::string index = (dir.path() / "index.sqlite").string();
    auto r = osprey_tool(
        {"definition", "--root", root, "--index", index, "--args", R"({"name": "Store"})"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("result").at("definitions").at(0).at("path") == "m.py");
    r = osprey_tool({"outline", "--root", root, "--text", "--args", R"({"path": "m.py"})"});
    CHECK(contains(r.out, "method get [2-3]"));
    r = osprey_tool({"git_status", "--root", root});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "not a git repository"));
}

TEST_CASE("osprey bench codenav prints its figures") {
    const std::string fixtures = std::string(OSPREY_SOURCE_DIR) + "/tests/tools/fixtures/codenav";
    osprey::test::TempDir dir;
    const auto r =
        run_process({OSPREY_BINARY, "bench", "codenav", "--repo", fixtures, "--queries", "5",
                     "--no-external", "--json", "--index", (dir.path() / "i.sqlite").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("cold_index").at("files") == 8);
    CHECK(j.at("warm_reindex").at("parsed") == 0);
    CHECK(j.at("definition_ms").at("queries").get<int>() >= 1);
    CHECK(j.at("grep").size() == 3);
    const auto bad = run_process({OSPREY_BINARY, "bench", "codenav"});
    CHECK(bad.exit_code == 2);
}
