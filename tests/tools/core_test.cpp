// The tool registry core: schema validation, workspace path resolution, globbing, gitignore, caps.
#include <unistd.h>

#include <set>

#include <catch2/catch.hpp>

#include "tests/tools/tool_test_support.hpp"
#include "tools/core/file_walker.hpp"
#include "tools/core/glob.hpp"
#include "tools/core/json_schema.hpp"

using namespace osprey::tools;
using nlohmann::json;
using osprey::test::contains;
using osprey::test::put;

TEST_CASE("json schema subset: types, required, enum, bounds, items, additionalProperties") {
    const json schema = {
        {"type", "object"},
        {"properties",
         {{"path", {{"type", "string"}, {"minLength", 1}}},
          {"n", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10}}},
          {"mode", {{"type", "string"}, {"enum", {"a", "b"}}}},
          {"list", {{"type", "array"}, {"items", {{"type", "string"}}}, {"maxItems", 2}}},
          {"any", {{"type", {"string", "array"}}}}}},
        {"required", {"path"}},
        {"additionalProperties", false}};
    CHECK(validate_json(schema, {{"path", "x"}, {"n", 3}, {"mode", "a"}}).empty());
    CHECK(validate_json(schema, {{"path", "x"}, {"n", 3.0}}).empty());  // 3.0 is an integer
    CHECK(validate_json(schema, {{"path", "x"}, {"any", json::array()}}).empty());

    auto one = [&](const json& value) {
        const auto errors = validate_json(schema, value);
        REQUIRE(errors.size() == 1);
        return errors[0];
    };
    CHECK(one(json::object()) == "arguments: missing required property 'path'");
    CHECK(one({{"path", 5}}) == "path: must be string, got integer");
    CHECK(one({{"path", ""}}) == "path: must be at least 1 characters long");
    CHECK(one({{"path", "x"}, {"n", 0}}) == "n: must be >= 1, got 0");
    CHECK(one({{"path", "x"}, {"n", 11}}) == "n: must be <= 10, got 11");
    CHECK(one({{"path", "x"}, {"n", 2.5}}) == "n: must be integer, got number");
    CHECK(one({{"path", "x"}, {"mode", "c"}}) == "mode: must be one of \"a\", \"b\", got \"c\"");
    CHECK(one({{"path", "x"}, {"list", {"a", 1}}}) == "list[1]: must be string, got integer");
    CHECK(one({{"path", "x"}, {"list", {"a", "b", "c"}}}) == "list: must have at most 2 items");
    CHECK(contains(one({{"path", "x"}, {"bogus", 1}}), "unknown property 'bogus'"));
    CHECK(one({{"path", "x"}, {"any", 1}}) == "any: must be string or array, got integer");
    CHECK(one(json::array()) == "arguments: must be object, got array");
}

TEST_CASE("glob patterns: *, ?, classes, ** components") {
    CHECK(glob_match("*.cpp", "a.cpp"));
    CHECK_FALSE(glob_match("*.cpp", "src/a.cpp"));
    CHECK(glob_match("**/*.cpp", "a.cpp"));
    CHECK(glob_match("**/*.cpp", "src/x/a.cpp"));
    CHECK(glob_match("src/**/test_*.py", "src/test_a.py"));
    CHECK(glob_match("src/**/test_*.py", "src/a/b/test_a.py"));
    CHECK_FALSE(glob_match("src/**/test_*.py", "lib/test_a.py"));
    CHECK(glob_match("build/**", "build/x/y"));
    CHECK(glob_match("a?c", "abc"));
    CHECK_FALSE(glob_match("a?c", "a/c"));
    CHECK(glob_match("[a-c]x", "bx"));
    CHECK_FALSE(glob_match("[!a-c]x", "bx"));
    CHECK(glob_match("\\*", "*"));
    CHECK_FALSE(glob_match("\\*", "a"));
    CHECK(glob_match("a**b", "axxb"));  // not a whole component: acts as *
    CHECK_FALSE(glob_match("a**b", "a/b"));
}

TEST_CASE("gitignore rules: basename, anchored, dir-only, negation, nested files") {
    const auto rules =
        parse_gitignore("# comment\n*.log\n!keep.log\n/build\nout/\ndocs/*.tmp\n", "");
    CHECK(is_ignored(rules, "x.log", false));
    CHECK(is_ignored(rules, "a/b/x.log", false));
    CHECK_FALSE(is_ignored(rules, "a/keep.log", false));
    CHECK(is_ignored(rules, "build", true));
    CHECK_FALSE(is_ignored(rules, "src/build", true));  // anchored to the root
    CHECK(is_ignored(rules, "src/out", true));
    CHECK_FALSE(is_ignored(rules, "src/out", false));  // dir-only
    CHECK(is_ignored(rules, "docs/a.tmp", false));
    CHECK_FALSE(is_ignored(rules, "x/docs/a.tmp", false));

    osprey::test::TempDir dir;
    put(dir.path() / ".gitignore", "*.o\n");
    put(dir.path() / "a.o", "");
    put(dir.path() / "a.c", "");
    put(dir.path() / "sub/.gitignore", "gen/\n!b.o\n");
    put(dir.path() / "sub/b.o", "");
    put(dir.path() / "sub/gen/x.c", "");
    put(dir.path() / "sub/y.c", "");
    put(dir.path() / ".git/config", "");
    Workspace ws(dir.path());
    std::vector<std::string> seen;
    for (const auto& e : list_files(ws, ws.root()))
        seen.push_back(e.relative);
    CHECK(seen ==
          std::vector<std::string>{".gitignore", "a.c", "sub/.gitignore", "sub/b.o", "sub/y.c"});
    // Walking from a subfolder still applies the root's rules.
    seen.clear();
    put(dir.path() / "sub/c.o", "");
    for (const auto& e : list_files(ws, ws.root() / "sub"))
        seen.push_back(e.relative);
    CHECK(seen == std::vector<std::string>{"sub/.gitignore", "sub/b.o", "sub/y.c"});
}

TEST_CASE("workspace paths stay inside the root: .., absolute paths, symlinks") {
    osprey::test::TempDir outside;
    osprey::test::TempDir dir;
    put(outside.path() / "secret.txt", "secret");
    put(dir.path() / "src/a.txt", "a");
    const Workspace ws(dir.path());
    const auto root = ws.root();
    CHECK(ws.resolve("src/a.txt") == root / "src/a.txt");
    CHECK(ws.resolve("./src/../src/a.txt") == root / "src/a.txt");
    CHECK(ws.resolve((root / "src/a.txt").string()) == root / "src/a.txt");
    CHECK(ws.resolve("new/file.txt") == root / "new/file.txt");  // missing tails are fine
    CHECK(ws.relative(ws.resolve(".")) == ".");

    auto refused = [&](const std::string& p) {
        try {
            ws.resolve(p);
        } catch (const ToolError& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(contains(refused("../x"), "outside the workspace root"));
    CHECK(contains(refused("src/../../x"), "outside the workspace root"));
    CHECK(contains(refused((outside.path() / "secret.txt").string()), "outside the workspace"));
    CHECK(contains(refused("/etc/passwd"), "outside the workspace root"));
    CHECK(contains(refused(""), "empty path"));

    std::filesystem::create_symlink(outside.path() / "secret.txt", root / "link.txt");
    std::filesystem::create_symlink(outside.path(), root / "linkdir");
    std::filesystem::create_symlink(outside.path() / "missing.txt", root / "dangling.txt");
    std::filesystem::create_symlink("src/a.txt", root / "inside.txt");
    std::filesystem::create_symlink("../../", root / "src/up");
    CHECK(contains(refused("link.txt"), "outside the workspace root"));
    CHECK(contains(refused("linkdir/secret.txt"), "outside the workspace root"));
    // A dangling link must not let a write create a file outside.
    CHECK(contains(refused("dangling.txt"), "outside the workspace root"));
    CHECK(contains(refused("src/up/x"), "outside the workspace root"));
    CHECK(ws.resolve("inside.txt") == root / "src/a.txt");
    std::filesystem::create_symlink("loop", root / "loop");
    CHECK(contains(refused("loop"), "too many levels of symbolic links"));

    // Walks never follow links out of the root.
    std::vector<std::string> seen;
    for (const auto& e : list_files(ws, root))
        seen.push_back(e.relative);
    CHECK(seen == std::vector<std::string>{"inside.txt", "src/a.txt"});
}

TEST_CASE("the registry validates before running, checks permissions and caps output") {
    osprey::test::ToolFixture fx;
    Registry registry;
    int runs = 0;
    registry.add({"echo",
                  "repeat text",
                  {{"type", "object"},
                   {"properties", {{"text", {{"type", "string"}}}}},
                   {"required", {"text"}},
                   {"additionalProperties", false}},
                  Permission::read,
                  [&](const json& args, ToolContext&) {
                      ++runs;
                      ToolResult r;
                      r.text = args["text"].get<std::string>();
                      r.data = {{"n", r.text.size()}};
                      return r;
                  },
                  "ask for less"});
    registry.add(
        {"boom",
         "fails",
         {{"type", "object"}},
         Permission::write,
         [](const json&, ToolContext&) -> ToolResult { throw std::runtime_error("it broke"); },
         ""});
    CHECK_THROWS_AS(registry.add({"echo", "", {{"type", "object"}}, Permission::read, {}, ""}),
                    std::invalid_argument);
    CHECK_THROWS_AS(registry.call("nope", json::object(), fx.ctx), ArgumentError);
    CHECK_THROWS_AS(registry.call("echo", {{"text", 1}}, fx.ctx), ArgumentError);
    CHECK(runs == 0);
    CHECK(registry.call("echo", {{"text", "hi"}}, fx.ctx).text == "hi");
    CHECK(runs == 1);

    try {
        registry.call("boom", json::object(), fx.ctx);
        FAIL("no error");
    } catch (const ArgumentError&) {
        FAIL("not an argument error");
    } catch (const ToolError& e) {
        CHECK(std::string(e.what()) == "boom: it broke");
    }
    fx.ctx.granted = {Permission::read};
    try {
        registry.call("boom", json::object(), fx.ctx);
    } catch (const ToolError& e) {
        CHECK(contains(e.what(), "needs write permission"));
    }

    fx.ctx.max_output_chars = 20;
    std::string long_text;
    for (int i = 0; i < 10; ++i)
        long_text += "line " + std::to_string(i) + "\n";
    const auto r = registry.call("echo", {{"text", long_text}}, fx.ctx);
    CHECK(r.data["truncated"] == true);
    CHECK(r.text.rfind("line 0\nline 1\nline 2\n[output truncated: 3 of 10 lines", 0) == 0);
    CHECK(contains(r.text, "; ask for less]"));

    const json schemas = registry.schemas();
    CHECK(schemas[0]["name"] == "echo");
    CHECK(schemas[1]["permission"] == "write");
}

TEST_CASE("the default registry carries the contract's tool and argument names") {
    const Registry registry = make_default_registry();
    const std::map<std::string, std::vector<std::string>> contract = {
        {"read", {"path", "start_line", "end_line"}},
        {"write", {"path", "content"}},
        {"edit", {"path", "old_text", "new_text"}},
        {"apply_patch", {"patch"}},
        {"list", {"path"}},
        {"glob", {"pattern"}},
        {"todo", {"items"}},
        {"grep", {"pattern", "path", "glob", "ignore_case", "context"}},
        {"shell", {"command", "timeout_s", "background"}},
        {"git_status", {}},
        {"git_diff", {"base", "head", "path"}},
        {"git_log", {"path", "limit"}},
        {"git_show", {"rev"}},
        {"git_blame", {"path", "start_line", "end_line"}},
        {"git_branches", {}},
        {"git_commit", {"message", "paths"}},
        {"outline", {"path"}},
        {"definition", {"name", "kind"}},
        {"references", {"name"}},
        {"repo_map", {"budget", "focus"}},
    };
    for (const auto& [name, args] : contract) {
        INFO(name);
        const Tool* tool = registry.find(name);
        REQUIRE(tool != nullptr);
        // Required arguments are exactly the contract's non-optional ones.
        const std::set<std::string> required_by_contract = {
            "path",    "content", "old_text", "new_text", "patch", "pattern",
            "command", "rev",     "message",  "name",     "items"};
        for (const auto& r : tool->schema.value("required", json::array())) {
            CHECK(std::find(args.begin(), args.end(), r.get<std::string>()) != args.end());
            CHECK(required_by_contract.count(r.get<std::string>()) == 1);
        }
        for (const auto& arg : args) {
            INFO(arg);
            CHECK(tool->schema["properties"].contains(arg));
        }
    }
}
