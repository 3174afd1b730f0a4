// read, write, edit, apply_patch, list, glob, todo on temporary folders, with their error paths.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/tools/tool_test_support.hpp"

using namespace osprey::tools;
using nlohmann::json;
using osprey::test::contains;
using osprey::test::slurp;

namespace {
std::string numbered(int from, int to) {
    std::string text;
    for (int i = from; i <= to; ++i)
        text += "line " + std::to_string(i) + "\n";
    return text;
}
}  // namespace

TEST_CASE("read: numbered lines, ranges, paging, binary, encoding errors, errors") {
    osprey::test::ToolFixture fx;
    fx.file("a.txt", "alpha\nbeta\ngamma\n");
    auto r = fx.call("read", {{"path", "a.txt"}});
    CHECK(r.text == "     1\talpha\n     2\tbeta\n     3\tgamma\n");
    CHECK(r.data["total_lines"] == 3);
    r = fx.call("read", {{"path", "a.txt"}, {"start_line", 2}, {"end_line", 2}});
    CHECK(r.text == "     2\tbeta\n");
    CHECK(r.data["content"] == "beta\n");

    fx.file("big.txt", numbered(1, 2500));
    fx.ctx.max_output_chars = 1 << 20;
    r = fx.call("read", {{"path", "big.txt"}});
    CHECK(r.data["end_line"] == 2000);
    CHECK(contains(r.text, "call read with start_line=2001 for more"));
    // The page also fits the output cap, and says exactly where to continue.
    fx.ctx.max_output_chars = 1024;
    r = fx.call("read", {{"path", "big.txt"}});
    const auto next = r.data["end_line"].get<int>() + 1;
    CHECK(next < 100);
    CHECK(contains(r.text, "call read with start_line=" + std::to_string(next) + " for more"));
    CHECK_FALSE(contains(r.text, "[output truncated"));
    fx.ctx.max_output_chars = 1 << 20;
    r = fx.call("read", {{"path", "big.txt"}, {"start_line", 2001}});
    CHECK(r.data["start_line"] == 2001);
    CHECK(r.data["end_line"] == 2500);

    fx.file("bin.dat", std::string("\x7f"
                                   "ELF\0\0\x01",
                                   7));
    r = fx.call("read", {{"path", "bin.dat"}});
    CHECK(r.data["binary"] == true);
    CHECK(contains(r.text, "binary file"));

    fx.file("latin1.txt", "ok\ncaf\xe9\n");
    r = fx.call("read", {{"path", "latin1.txt"}});
    CHECK(r.data["encoding_errors"][0]["line"] == 2);
    CHECK(r.data["encoding_errors"][0]["column"] == 4);
    CHECK(contains(r.text, "not valid UTF-8"));
    CHECK(contains(r.text, "caf\xEF\xBF\xBD"));

    CHECK(contains(fx.failure("read", {{"path", "missing.txt"}}), "no such file: missing.txt"));
    CHECK(contains(fx.failure("read", {{"path", "."}}), "is a directory"));
    CHECK(contains(fx.failure("read", {{"path", "a.txt"}, {"start_line", 9}}),
                   "start_line 9 is past the end of a.txt (3 lines)"));
    CHECK(contains(fx.failure("read", {{"path", "a.txt"}, {"start_line", 3}, {"end_line", 2}}),
                   "end_line 2 is before start_line 3"));
    CHECK(contains(fx.failure("read", {{"path", "a.txt"}, {"start_line", 0}}),
                   "ARGUMENT ERROR: invalid arguments for tool 'read': start_line: must be >= 1"));
    CHECK(contains(fx.failure("read", {{"path", "../a.txt"}}), "outside the workspace root"));
    CHECK(contains(fx.failure("read", {{"path", "/etc/passwd"}}), "outside the workspace root"));
}

TEST_CASE("write: creates folders, replaces atomically, keeps mode bits, refuses escapes") {
    osprey::test::ToolFixture fx;
    auto r = fx.call("write", {{"path", "d/e/new.sh"}, {"content", "#!/bin/sh\n"}});
    CHECK(r.data["created"] == true);
    CHECK(slurp(fx.root() / "d/e/new.sh") == "#!/bin/sh\n");
    REQUIRE(chmod((fx.root() / "d/e/new.sh").c_str(), 0750) == 0);
    r = fx.call("write", {{"path", "d/e/new.sh"}, {"content", "#!/bin/sh\necho hi\n"}});
    CHECK(r.data["created"] == false);
    struct stat st {};
    REQUIRE(stat((fx.root() / "d/e/new.sh").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0750);
    CHECK(slurp(fx.root() / "d/e/new.sh") == "#!/bin/sh\necho hi\n");
    // No temporary files are left behind.
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(fx.root() / "d/e")) {
        (void)e;
        ++entries;
    }
    CHECK(entries == 1);
    CHECK(contains(fx.failure("write", {{"path", "d"}, {"content", "x"}}), "is a directory"));
    CHECK(contains(fx.failure("write", {{"path", "../x"}, {"content", "x"}}), "outside"));
    osprey::test::TempDir outside;
    std::filesystem::create_symlink(outside.path() / "new.txt", fx.root() / "out.txt");
    CHECK(contains(fx.failure("write", {{"path", "out.txt"}, {"content", "x"}}), "outside"));
    CHECK_FALSE(std::filesystem::exists(outside.path() / "new.txt"));
    CHECK(contains(fx.failure("write", {{"path", "x"}}), "missing required property 'content'"));

    fx.ctx.granted = {Permission::read};
    CHECK(
        contains(fx.failure("write", {{"path", "y"}, {"content", "x"}}), "needs write permission"));
}

TEST_CASE("edit: one exact occurrence; zero or several show candidates with line numbers") {
    osprey::test::ToolFixture fx;
    fx.file("a.py", "def f(x):\n    return x + 1\n\ndef g(x):\n    return x + 1\n");
    auto err = fx.failure(
        "edit", {{"path", "a.py"}, {"old_text", "return x + 1"}, {"new_text", "return x + 2"}});
    CHECK(contains(err, "occurs 2 times"));
    CHECK(contains(err, "match 1 at line 2"));
    CHECK(contains(err, "match 2 at line 5"));
    CHECK(slurp(fx.root() / "a.py") ==
          "def f(x):\n    return x + 1\n\ndef g(x):\n    return x + 1\n");

    err = fx.failure(
        "edit", {{"path", "a.py"}, {"old_text", "def g(y):\n    return y + 1"}, {"new_text", "z"}});
    CHECK(contains(err, "old_text was not found in a.py"));
    CHECK(contains(err, "closest candidate at lines 4-5"));

    auto r = fx.call("edit", {{"path", "a.py"},
                              {"old_text", "def g(x):\n    return x + 1"},
                              {"new_text", "def g(x):\n    return x * 2"}});
    CHECK(r.data["replacements"] == 1);
    CHECK(r.data["line"] == 4);
    CHECK(slurp(fx.root() / "a.py") ==
          "def f(x):\n    return x + 1\n\ndef g(x):\n    return x * 2\n");

    r = fx.call("edit",
                {{"path", "a.py"}, {"old_text", "x"}, {"new_text", "y"}, {"replace_all", true}});
    CHECK(r.data["replacements"] == 4);
    CHECK(contains(fx.failure("edit", {{"path", "a.py"}, {"old_text", ""}, {"new_text", "q"}}),
                   "old_text is empty"));
    CHECK(contains(fx.failure("edit", {{"path", "a.py"}, {"old_text", "y"}, {"new_text", "y"}}),
                   "the same"));
    CHECK(contains(fx.failure("edit", {{"path", "no.py"}, {"old_text", "a"}, {"new_text", "b"}}),
                   "no such file"));
}

TEST_CASE("apply_patch: add, delete, update, move, all or nothing") {
    osprey::test::ToolFixture fx;
    fx.file("src/a.c", "int a() {\n    return 1;\n}\n\nint b() {\n    return 1;\n}\n");
    fx.file("old.txt", "bye\n");
    fx.file("mv.txt", "one\ntwo\n");
    REQUIRE(chmod((fx.root() / "mv.txt").c_str(), 0755) == 0);
    const std::string patch =
        "*** Begin Patch\n"
        "*** Add File: docs/new.md\n"
        "+# New\n"
        "+text\n"
        "*** Delete File: old.txt\n"
        "*** Update File: src/a.c\n"
        "@@ int b() {\n"
        "-    return 1;\n"
        "+    return 2;\n"
        "*** Update File: mv.txt\n"
        "*** Move to: moved/mv.txt\n"
        "@@\n"
        " one\n"
        "-two\n"
        "+three\n"
        "*** End Patch\n";
    auto r = fx.call("apply_patch", {{"patch", patch}});
    CHECK(r.data["files"].size() == 4);
    CHECK(slurp(fx.root() / "docs/new.md") == "# New\ntext\n");
    CHECK_FALSE(std::filesystem::exists(fx.root() / "old.txt"));
    CHECK(slurp(fx.root() / "src/a.c") ==
          "int a() {\n    return 1;\n}\n\nint b() {\n    return 2;\n}\n");
    CHECK_FALSE(std::filesystem::exists(fx.root() / "mv.txt"));
    CHECK(slurp(fx.root() / "moved/mv.txt") == "one\nthree\n");
    struct stat st {};
    REQUIRE(stat((fx.root() / "moved/mv.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0755);

    // A failing hunk leaves every file as it was, including the ones earlier in the patch.
    const std::string bad =
        "*** Begin Patch\n*** Add File: fresh.txt\n+x\n*** Update File: src/a.c\n@@\n-    return "
        "42;\n+    return 0;\n*** End Patch\n";
    auto err = fx.failure("apply_patch", {{"patch", bad}});
    CHECK(contains(err, "Update File src/a.c, hunk 1: these lines were not found"));
    CHECK_FALSE(std::filesystem::exists(fx.root() / "fresh.txt"));

    CHECK(contains(
        fx.failure("apply_patch", {{"patch",
                                    "*** Begin Patch\n*** Add File: docs/new.md\n+x\n*** End "
                                    "Patch\n"}}),
        "already exists"));
    CHECK(contains(fx.failure("apply_patch",
                              {{"patch", "*** Begin Patch\n*** Delete File: nope\n*** End Patch"}}),
                   "Delete File nope: no such file"));
    CHECK(contains(fx.failure("apply_patch", {{"patch", "*** Begin Patch\n*** Add File: a\n+x\n"}}),
                   "no '*** End Patch'"));
    CHECK(
        contains(fx.failure("apply_patch",
                            {{"patch", "*** Begin Patch\n*** Add File: ../x\n+x\n*** End Patch"}}),
                 "outside the workspace root"));
    CHECK(contains(fx.failure("apply_patch", {{"patch", "*** Begin Patch\nhello\n*** End Patch"}}),
                   "expected '*** Add File: '"));
    CHECK(contains(fx.failure("apply_patch", {{"patch",
                                               "*** Begin Patch\n*** Update File: "
                                               "src/a.c\n@@\n-int a() {\n*** Delete File: "
                                               "src/a.c\n*** End Patch"}}),
                   "more than once"));
    CHECK(contains(fx.failure("apply_patch", {{"patch", ""}}), "empty"));
}

TEST_CASE("list and glob are gitignore-aware and never enter .git") {
    osprey::test::ToolFixture fx;
    fx.file(".gitignore", "build/\n*.tmp\n");
    fx.file("src/main.cpp", "int main() {}\n");
    fx.file("src/util/x.hpp", "");
    fx.file("src/t.tmp", "");
    fx.file("build/out.o", "");
    fx.file(".git/HEAD", "ref: refs/heads/main\n");
    auto r = fx.call("list", json::object());
    CHECK(r.text ==
          "./\n  .gitignore (13 B)\n  src/\n    main.cpp (14 B)\n    util/\n      x.hpp (0 B)\n");
    CHECK(r.data["entries"].size() == 5);
    r = fx.call("list", {{"path", "src"}, {"depth", 1}});
    CHECK(r.data["entries"].size() == 2);
    r = fx.call("list", {{"include_ignored", true}});
    CHECK(contains(r.text, "out.o"));
    CHECK_FALSE(contains(r.text, "HEAD"));
    CHECK(contains(fx.failure("list", {{"path", "nope"}}), "no such folder"));
    CHECK(contains(fx.failure("list", {{"path", "src/main.cpp"}}), "is a file"));

    r = fx.call("glob", {{"pattern", "**/*.?pp"}});
    CHECK(r.data["files"] == json({"src/main.cpp", "src/util/x.hpp"}));
    r = fx.call("glob", {{"pattern", "*.hpp"}, {"path", "src/util"}});
    CHECK(r.data["files"] == json({"src/util/x.hpp"}));
    r = fx.call("glob", {{"pattern", "**/*.o"}});
    CHECK(r.data["files"].empty());
    CHECK(contains(r.text, "no files match"));
    CHECK(contains(fx.failure("glob", {{"pattern", "*"}, {"path", "../"}}), "outside"));
}

TEST_CASE("todo keeps the plan and renders a checklist") {
    osprey::test::ToolFixture fx;
    auto r = fx.call("todo", {{"items",
                               {{{"text", "read code"}, {"status", "completed"}},
                                {{"text", "fix bug"}, {"status", "in_progress"}},
                                {{"text", "run tests"}}}}});
    CHECK(r.text == "[x] 1. read code\n[~] 2. fix bug\n[ ] 3. run tests\n");
    CHECK(fx.ctx.todos.size() == 3);
    CHECK(fx.ctx.todos[2].status == "pending");
    CHECK(r.data["completed"] == 1);
    CHECK(contains(fx.failure("todo", {{"items",
                                        {{{"text", "a"}, {"status", "in_progress"}},
                                         {{"text", "b"}, {"status", "in_progress"}}}}}),
                   "only one item may be in_progress"));
    CHECK(contains(fx.failure("todo", {{"items", {{{"text", "a"}, {"status", "done"}}}}}),
                   "must be one of"));
}
