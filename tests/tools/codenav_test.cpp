// Code navigation on fixtures in each of the eight languages (outline nesting, definitions,
// references that skip comments and strings), the incremental symbol index, repo_map, and an
// end-to-end run on this repository.
#include <catch2/catch.hpp>
#include <filesystem>
#include <tuple>

#include "tests/tools/tool_test_support.hpp"
#include "tools/codenav/codenav_tools.hpp"
#include "tools/codenav/symbol_index.hpp"
#include "tools/codenav/symbols.hpp"
#include "tools/core/file_io.hpp"

using namespace osprey::tools;
using nlohmann::json;
using osprey::test::contains;
namespace fs = std::filesystem;

namespace {

struct Fixture {
    std::string file;   // under tests/tools/fixtures/codenav/
    int helper_line;    // where helper is defined
    int call_line;      // the one call of helper
    std::string outer;  // a class-like symbol
    std::string outer_kind;
    int outer_start, outer_end;
    std::string inner;  // a symbol nested in it
    std::string inner_kind;
    int inner_start, inner_end;
    std::string enclosing;  // the symbol enclosing the call
};

const std::vector<Fixture> kFixtures = {
    {"c/widget.c", 8, 14, "Widget", "struct", 4, 6, "size", "field", 5, 5, "render"},
    {"cpp/widget.cpp", 6, 14, "Widget", "class", 10, 19, "render", "method", 12, 15,
     "ui::Widget::render"},
    {"python/widget.py", 4, 13, "Widget", "class", 8, 13, "render", "method", 11, 13,
     "Widget::render"},
    {"javascript/widget.js", 3, 14, "Widget", "class", 7, 16, "render", "method", 12, 15,
     "Widget::render"},
    {"typescript/widget.ts", 3, 16, "Widget", "class", 11, 22, "render", "method", 14, 17,
     "Widget::render"},
    {"go/widget.go", 4, 14, "Widget", "struct", 8, 10, "Size", "field", 9, 9, "Render"},
    {"rust/widget.rs", 3, 14, "Widget", "impl", 11, 16, "render", "method", 12, 15,
     "Widget::render"},
    {"java/Widget.java", 7, 13, "Widget", "class", 4, 15, "render", "method", 11, 14,
     "Widget::render"},
};

const fs::path kFixtureDir = fs::path(OSPREY_SOURCE_DIR) / "tests/tools/fixtures/codenav";

// Finds a symbol by name anywhere in an outline's nested JSON; sets `parent` to its parent's name.
const json* find_symbol(const json& list, const std::string& name, const std::string& kind,
                        std::string& parent, const std::string& parent_name = "") {
    for (const auto& s : list) {
        if (s["name"] == name && (kind.empty() || s["kind"] == kind)) {
            parent = parent_name;
            return &s;
        }
        if (const json* hit = find_symbol(s["children"], name, kind, parent, s["name"]))
            return hit;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("every embedded query compiles for its grammar") {
    const auto problems = check_queries();
    for (const auto& p : problems)
        INFO(p);
    CHECK(problems.empty());
}

TEST_CASE("code navigation on fixtures in eight languages") {
    osprey::test::ToolFixture fx;
    fs::copy(kFixtureDir, fx.root(), fs::copy_options::recursive);
    for (const auto& f : kFixtures) {
        INFO(f.file);
        // outline: the nested symbol sits under its class-like parent with the right lines.
        const auto outline = fx.call("outline", {{"path", f.file}});
        CHECK(outline.data["syntax_errors"] == false);
        std::string parent;
        const json* outer = find_symbol(outline.data["symbols"], f.outer, f.outer_kind, parent);
        REQUIRE(outer != nullptr);
        CHECK((*outer)["start_line"] == f.outer_start);
        CHECK((*outer)["end_line"] == f.outer_end);
        const json* inner = find_symbol(outline.data["symbols"], f.inner, f.inner_kind, parent);
        REQUIRE(inner != nullptr);
        CHECK(parent == f.outer);
        CHECK((*inner)["start_line"] == f.inner_start);
        CHECK((*inner)["end_line"] == f.inner_end);
        const json* helper = find_symbol(outline.data["symbols"], "helper", "", parent);
        REQUIRE(helper != nullptr);
        CHECK((*helper)["start_line"] == f.helper_line);
        CHECK(contains((*helper)["signature"].get<std::string>(), "helper"));
    }

    // definition: one per language, ranked with the `from` file first.
    auto r = fx.call("definition", {{"name", "helper"}});
    CHECK(r.data["total"] == kFixtures.size());
    r = fx.call("definition", {{"name", "helper"}, {"from", "rust/widget.rs"}});
    CHECK(r.data["definitions"][0]["path"] == "rust/widget.rs");
    CHECK(r.data["definitions"][0]["start_line"] == 3);
    r = fx.call("definition", {{"name", "Widget"}, {"kind", "interface"}});
    CHECK(r.data["total"] == 0);
    CHECK(contains(r.text, "no definition of 'Widget' of kind interface"));
    r = fx.call("definition", {{"name", "Shape"}, {"kind", "interface"}});
    REQUIRE(r.data["total"] == 1);
    CHECK(r.data["definitions"][0]["path"] == "typescript/widget.ts");

    // references: the definition and the call, never the comment (line 1) or the string.
    r = fx.call("references", {{"name", "helper"}});
    std::map<std::string, std::vector<int>> lines;
    std::map<std::string, std::string> enclosing;
    for (const auto& ref : r.data["references"]) {
        const std::string path = ref["path"];
        lines[path].push_back(ref["line"]);
        if (!ref["definition"].get<bool>())
            enclosing[path] = ref["enclosing"];
    }
    for (const auto& f : kFixtures) {
        INFO(f.file);
        CHECK(lines[f.file] == std::vector<int>{f.helper_line, f.call_line});
        CHECK(enclosing[f.file] == f.enclosing);
    }
}

TEST_CASE("the reference walk finds exactly what references.scm finds") {
    // The fixtures in every language, tsx included, and this repository's own C++ sources.
    std::vector<std::pair<fs::path, const Language*>> files;
    for (const auto& f : kFixtures)
        files.emplace_back(kFixtureDir / f.file, language_for_path(f.file));
    files.emplace_back(kFixtureDir / "typescript/widget.ts", find_language("tsx"));
    for (const auto& e : fs::recursive_directory_iterator(fs::path(OSPREY_SOURCE_DIR) / "tools")) {
        if (e.is_regular_file() && language_for_path(e.path()) != nullptr)
            files.emplace_back(e.path(), language_for_path(e.path()));
    }
    REQUIRE(files.size() > 20);
    SymbolExtractor extractor;
    std::size_t compared = 0;
    for (const auto& [path, language] : files) {
        INFO(path.string() << " as " << language->name);
        const std::string source = read_file(path);
        const auto walked = extractor.extract(*language, source, true, ReferenceScan::fastest);
        const auto queried = extractor.extract(*language, source, true, ReferenceScan::query);
        REQUIRE(walked.references.size() == queried.references.size());
        for (std::size_t i = 0; i < walked.references.size(); ++i) {
            const auto& a = walked.references[i];
            const auto& b = queried.references[i];
            CHECK(std::tie(a.name, a.line, a.column) == std::tie(b.name, b.line, b.column));
        }
        compared += walked.references.size();
    }
    CHECK(compared > 1000);
}

TEST_CASE("the symbol index is incremental: unchanged files are neither read nor parsed") {
    osprey::test::TempDir dir;
    fs::copy(kFixtureDir, dir.path(), fs::copy_options::recursive);
    osprey::test::put(dir.path() / "notes.txt", "not source\n");
    const Workspace ws(dir.path());
    const fs::path db = dir.path() / "index.sqlite";
    {
        SymbolIndex index(ws, db);
        const auto cold = index.refresh();
        CHECK(cold.files == kFixtures.size());
        CHECK(cold.parsed == kFixtures.size());
    }
    SymbolIndex index(ws, db);  // reopened: state lives in the database
    auto warm = index.refresh();
    CHECK(warm.parsed == 0);
    CHECK(warm.rehashed == 0);
    CHECK(warm.unchanged == kFixtures.size());

    // Same content, new mtime: hashed, not parsed.
    const fs::path py = dir.path() / "python/widget.py";
    fs::last_write_time(py, fs::last_write_time(py) + std::chrono::seconds(5));
    warm = index.refresh();
    CHECK(warm.rehashed == 1);
    CHECK(warm.parsed == 0);
    // New content: parsed, and the new symbol is found.
    osprey::test::put(py, osprey::test::slurp(py) + "\n\ndef fresh_function():\n    pass\n");
    warm = index.refresh();
    CHECK(warm.parsed == 1);
    REQUIRE(index.definitions("fresh_function", "", "").size() == 1);
    CHECK(index.definitions("fresh_function", "", "")[0].symbol.start_line == 16);
    // Deleted: dropped.
    fs::remove(dir.path() / "go/widget.go");
    warm = index.refresh();
    CHECK(warm.removed == 1);
    CHECK(index.definitions("Render", "", "").empty());
    CHECK(index.file_count() == kFixtures.size() - 1);
}

TEST_CASE("code navigation tools refresh after a write tool and report errors") {
    osprey::test::ToolFixture fx;
    fx.file("a.py", "def one():\n    pass\n");
    CHECK(fx.call("definition", {{"name", "two"}}).data["total"] == 0);
    fx.call("write", {{"path", "b.py"}, {"content", "def two():\n    one()\n"}});
    CHECK(fx.call("definition", {{"name", "two"}}).data["total"] == 1);
    CHECK(fx.call("references", {{"name", "one"}}).data["references"].size() == 2);
    CHECK(contains(fx.failure("outline", {{"path", "notes.md"}}), "no such file"));
    fx.file("notes.md", "# x\n");
    CHECK(
        contains(fx.failure("outline", {{"path", "notes.md"}}), "no code navigation for notes.md"));
    CHECK(contains(fx.failure("outline", {{"path", "../a.py"}}), "outside the workspace"));
    CHECK(
        contains(fx.failure("definition", {{"name", "x"}, {"kind", "banana"}}), "must be one of"));
}

TEST_CASE("repo_map ranks what the focus uses and stays within the budget") {
    osprey::test::ToolFixture fx;
    fx.file("core/store.py", "class Store:\n    def get(self, key):\n        return key\n");
    fx.file("core/util.py", "def format_name(n):\n    return n\n");
    fx.file("app/main.py",
            "from core.store import Store\n\ndef main():\n    s = Store()\n    return s.get(1)\n");
    fx.file("app/cli.py", "def cli_entry():\n    return format_name('x')\n");
    for (int i = 0; i < 30; ++i) {
        fx.file("misc/m" + std::to_string(i) + ".py",
                "def misc_" + std::to_string(i) + "():\n    return " + std::to_string(i) + "\n");
    }
    auto r = fx.call("repo_map", {{"budget", 64}, {"focus", "app/main.py"}});
    CHECK(r.data["estimated_tokens"].get<int>() <= 64);
    REQUIRE_FALSE(r.data["files"].empty());
    // main.py uses Store: store.py outranks util.py and the unrelated files.
    std::vector<std::string> order;
    for (const auto& f : r.data["files"])
        order.push_back(f["path"]);
    const auto store = std::find(order.begin(), order.end(), "core/store.py");
    const auto util = std::find(order.begin(), order.end(), "core/util.py");
    CHECK(store != order.end());
    CHECK(store < util);
    CHECK(contains(r.text, "class Store"));

    r = fx.call("repo_map", {{"budget", 64}, {"focus", {"format_name"}}});
    CHECK(r.data["files"][0]["path"] == "core/util.py");
    CHECK(fx.call("repo_map", json::object()).data["indexed_files"] == 34);
}

TEST_CASE("end to end on this repository: definition finds a known class in model/") {
    const fs::path repo = OSPREY_SOURCE_DIR;
    osprey::test::TempDir cache;
    ToolContext ctx{Workspace(repo)};
    ctx.index_path = cache.path() / "index.sqlite";
    const Registry registry = make_default_registry();
    auto r = registry.call("definition", {{"name", "BackendSelection"}}, ctx);
    REQUIRE(r.data["total"].get<int>() >= 1);
    CHECK(r.data["definitions"][0]["path"] == "model/compute_backend.hpp");
    CHECK(r.data["definitions"][0]["kind"] == "struct");
    r = registry.call("definition", {{"name", "Database"}, {"kind", "class"}}, ctx);
    REQUIRE(r.data["total"].get<int>() >= 1);
    CHECK(r.data["definitions"][0]["path"] == "memory/database.hpp");
    r = registry.call("references", {{"name", "select_backend"}}, ctx);
    CHECK(r.data["references"].size() >= 2);
    r = registry.call("outline", {{"path", "tools/core/workspace.hpp"}}, ctx);
    CHECK(contains(r.text, "class Workspace"));
    CHECK(contains(r.text, "method resolve"));
    r = registry.call("repo_map", {{"budget", 512}, {"focus", "tools/core/registry.cpp"}}, ctx);
    CHECK(contains(r.text, "tools/core/registry.hpp:"));
}
