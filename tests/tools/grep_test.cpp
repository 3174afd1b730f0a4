// grep: regex and literal search, gitignore, type and glob filters, context, limits, binaries.
#include <catch2/catch.hpp>

#include "tests/tools/tool_test_support.hpp"
#include "tools/search/grep.hpp"

using namespace osprey::tools;
using nlohmann::json;
using osprey::test::contains;

TEST_CASE("grep finds regex matches in path order with line numbers") {
    osprey::test::ToolFixture fx;
    fx.file("b.py", "def foo():\n    return 1\n# foo again\n");
    fx.file("a/x.cpp", "int foo() { return 2; }\n");
    fx.file(".gitignore", "gen/\n");
    fx.file("gen/foo.cpp", "int foo();\n");
    fx.file("bin.o", std::string("foo\0\0\0", 6));
    auto r = fx.call("grep", {{"pattern", "fo+\\("}});
    CHECK(r.text == "a/x.cpp:1:int foo() { return 2; }\nb.py:1:def foo():\n");
    CHECK(r.data["total_matches"] == 2);
    CHECK(r.data["binary_files_skipped"] == 1);

    r = fx.call("grep", {{"pattern", "FOO"}, {"ignore_case", true}, {"type", "python"}});
    CHECK(r.data["total_matches"] == 2);
    r = fx.call("grep", {{"pattern", "foo"}, {"glob", "*.cpp"}});
    CHECK(r.text == "a/x.cpp:1:int foo() { return 2; }\n");
    r = fx.call("grep", {{"pattern", "foo"}, {"glob", "*.cpp"}, {"include_ignored", true}});
    CHECK(r.data["total_matches"] == 2);
    r = fx.call("grep", {{"pattern", "foo()"}, {"fixed_strings", true}, {"path", "b.py"}});
    CHECK(r.text == "b.py:1:def foo():\n");
    r = fx.call("grep", {{"pattern", "^    return"}, {"path", "."}});
    CHECK(r.text == "b.py:2:    return 1\n");
    // Line by line: \s+ never joins two lines.
    fx.file("s.c", "static\ninline int f();\nstatic inline int g();\n");
    r = fx.call("grep", {{"pattern", "static\\s+inline"}, {"path", "s.c"}});
    CHECK(r.text == "s.c:3:static inline int g();\n");
    r = fx.call("grep", {{"pattern", "nothing-here"}});
    CHECK(contains(r.text, "no matches"));
}

TEST_CASE("grep context lines merge, and the match limit says so") {
    osprey::test::ToolFixture fx;
    std::string text;
    for (int i = 1; i <= 20; ++i)
        text += (i == 5 || i == 7 || i == 15 ? "hit " : "line ") + std::to_string(i) + "\n";
    fx.file("f.txt", text);
    auto r = fx.call("grep", {{"pattern", "hit"}, {"context", 1}});
    CHECK(r.text ==
          "f.txt-4-line 4\nf.txt:5:hit 5\nf.txt-6-line 6\nf.txt:7:hit 7\nf.txt-8-line 8\n--\n"
          "f.txt-14-line 14\nf.txt:15:hit 15\nf.txt-16-line 16\n--\n");
    r = fx.call("grep", {{"pattern", "hit"}, {"max_matches", 2}});
    CHECK(r.data["total_matches"] == 2);
    CHECK(r.data["limit_hit"] == true);
    CHECK(contains(r.text, "[stopped at 2 matches"));

    // Many files, searched in parallel, still reported in order and limited exactly.
    for (int i = 0; i < 50; ++i)
        fx.file("many/" + std::to_string(100 + i) + ".txt", "needle\nneedle\n");
    GrepOptions options;
    options.pattern = "needle";
    options.max_matches = 31;
    options.threads = 4;
    const auto found = grep(fx.ctx.workspace, fx.root() / "many", options);
    CHECK(found.total_matches == 31);
    REQUIRE(found.files.size() == 16);
    CHECK(found.files.front().path == "many/100.txt");
    CHECK(found.files.back().path == "many/115.txt");
    CHECK(found.files.back().matches == 1);
}

TEST_CASE("grep handles invalid UTF-8 and reports bad patterns and types") {
    osprey::test::ToolFixture fx;
    fx.file("latin1.txt", "caf\xe9 cr\xe8me\nplain caf\n");
    auto r = fx.call("grep", {{"pattern", "caf"}});
    CHECK(r.data["total_matches"] == 2);
    CHECK(contains(fx.failure("grep", {{"pattern", "a("}}),
                   "invalid regular expression at offset 2"));
    CHECK(contains(fx.failure("grep", {{"pattern", "a"}, {"type", "cobol"}}),
                   "unknown file type 'cobol'"));
    CHECK(
        contains(fx.failure("grep", {{"pattern", "a"}, {"path", "../"}}), "outside the workspace"));
    CHECK(contains(fx.failure("grep", {{"pattern", "a"}, {"path", "nope"}}),
                   "no such file or folder"));
    CHECK(contains(fx.failure("grep", {{"pattern", ""}}), "ARGUMENT ERROR"));
}
