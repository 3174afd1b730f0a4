// The git tools on temporary repositories built with libgit2 in the test (never the git CLI).
#include <git2.h>

#include <catch2/catch.hpp>

#include "tests/tools/tool_test_support.hpp"
#include "tools/git/repository.hpp"

using namespace osprey::tools;
using nlohmann::json;
using osprey::test::contains;

namespace {

// Stages `paths` and commits them as `author` at `when` (seconds), straight through libgit2.
std::string commit_files(const Repository& repo, const std::vector<std::string>& paths,
                         const std::string& message, const std::string& author, git_time_t when) {
    git_index* index = nullptr;
    REQUIRE(git_repository_index(&index, repo.raw()) == 0);
    for (const auto& p : paths) {
        if (std::filesystem::exists(repo.workdir() / p)) {
            REQUIRE(git_index_add_bypath(index, p.c_str()) == 0);
        } else {
            REQUIRE(git_index_remove_bypath(index, p.c_str()) == 0);
        }
    }
    REQUIRE(git_index_write(index) == 0);
    git_oid tree_id;
    REQUIRE(git_index_write_tree(&tree_id, index) == 0);
    git_index_free(index);
    git_tree* tree = nullptr;
    REQUIRE(git_tree_lookup(&tree, repo.raw(), &tree_id) == 0);
    git_signature* sig = nullptr;
    REQUIRE(git_signature_new(&sig, author.c_str(), (author + "@example.com").c_str(), when, 0) ==
            0);
    git_commit* parent = nullptr;
    if (!repo.head_unborn()) {
        git_object* obj = nullptr;
        REQUIRE(git_revparse_single(&obj, repo.raw(), "HEAD") == 0);
        parent = reinterpret_cast<git_commit*>(obj);
    }
    const git_commit* parents[1] = {parent};
    git_oid id;
    REQUIRE(git_commit_create(&id, repo.raw(), "HEAD", sig, sig, nullptr, message.c_str(), tree,
                              parent != nullptr ? 1 : 0, parents) == 0);
    git_commit_free(parent);
    git_signature_free(sig);
    git_tree_free(tree);
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof hex, &id);
    return hex;
}

struct GitFixture : osprey::test::ToolFixture {
    Repository repo = Repository::init(root());
    std::string first, second;

    GitFixture() {
        file("README.md", "hello\n");
        file("src/a.c", "int a;\nint b;\nint c;\n");
        first = commit_files(repo, {"README.md", "src/a.c"}, "first commit\n", "Alice", 1700000000);
        file("src/a.c", "int a;\nint B;\nint c;\n");
        file("docs/x.md", "x\n");
        second =
            commit_files(repo, {"src/a.c", "docs/x.md"}, "second: rename b\n", "Bob", 1710000000);
    }
};

}  // namespace

TEST_CASE("git tools refuse a folder that is not a repository") {
    osprey::test::ToolFixture fx;
    for (const char* tool : {"git_status", "git_log", "git_branches", "git_diff"}) {
        CHECK(contains(fx.failure(tool, json::object()), "not a git repository"));
    }
}

TEST_CASE("git_status shows staged, unstaged and untracked files") {
    GitFixture fx;
    auto r = fx.call("git_status", json::object());
    CHECK(r.data["clean"] == true);
    CHECK(contains(r.text, "nothing to commit"));
    fx.file("README.md", "changed\n");
    fx.file("new.txt", "n\n");
    fx.file("docs/x.md", "staged\n");
    git_index* index = nullptr;
    REQUIRE(git_repository_index(&index, fx.repo.raw()) == 0);
    REQUIRE(git_index_add_bypath(index, "docs/x.md") == 0);
    REQUIRE(git_index_write(index) == 0);
    git_index_free(index);
    r = fx.call("git_status", json::object());
    CHECK(r.text == "branch " + fx.repo.head_name() + "\n M README.md\nM  docs/x.md\n?? new.txt\n");
    CHECK(r.data["entries"][1]["staged"] == "modified");
    CHECK(r.data["entries"][2]["unstaged"] == "untracked");
}

TEST_CASE("git_diff: worktree vs index, index vs HEAD, two revisions, path filter, context") {
    GitFixture fx;
    fx.file("README.md", "hello\nworld\n");
    auto r = fx.call("git_diff", json::object());
    CHECK(contains(r.text, "+world"));
    CHECK(r.data["files"][0]["path"] == "README.md");
    CHECK(r.data["files"][0]["additions"] == 1);
    r = fx.call("git_diff", {{"staged", true}});
    CHECK(contains(r.text, "no differences"));

    r = fx.call("git_diff", {{"base", fx.first}, {"head", fx.second}});
    CHECK(r.data["files"].size() == 2);
    CHECK(contains(r.text, "-int b;\n+int B;"));
    r = fx.call("git_diff", {{"base", "HEAD~1"}, {"head", "HEAD"}, {"path", "src"}});
    REQUIRE(r.data["files"].size() == 1);
    CHECK(r.data["files"][0]["path"] == "src/a.c");
    r = fx.call("git_diff",
                {{"base", "HEAD~1"}, {"head", "HEAD"}, {"path", "src/a.c"}, {"context", 0}});
    CHECK_FALSE(contains(r.text, "\n int a;\n"));
    r = fx.call("git_diff", {{"base", "HEAD~1"}});  // base vs working tree
    CHECK(r.data["files"].size() == 3);

    CHECK(contains(fx.failure("git_diff", {{"base", "nope"}, {"head", "HEAD"}}),
                   "unknown revision 'nope'"));
    CHECK(contains(fx.failure("git_diff", {{"head", "HEAD"}}), "head needs base"));
    CHECK(contains(fx.failure("git_diff", {{"path", "../x"}}), "outside the workspace"));
}

TEST_CASE("git_log: limit, path, author, since") {
    GitFixture fx;
    auto r = fx.call("git_log", json::object());
    REQUIRE(r.data["commits"].size() == 2);
    CHECK(r.data["commits"][0]["summary"] == "second: rename b");
    CHECK(r.data["commits"][1]["author"] == "Alice");
    CHECK(fx.call("git_log", {{"limit", 1}}).data["commits"].size() == 1);
    r = fx.call("git_log", {{"path", "README.md"}});
    REQUIRE(r.data["commits"].size() == 1);
    CHECK(r.data["commits"][0]["id"] == fx.first);
    CHECK(fx.call("git_log", {{"author", "bob"}}).data["commits"].size() == 1);
    CHECK(fx.call("git_log", {{"since", "2024-01-01"}}).data["commits"].size() == 1);
    CHECK(fx.call("git_log", {{"since", "2020-01-01"}}).data["commits"].size() == 2);
    CHECK(contains(fx.failure("git_log", {{"since", "yesterday"}}), "since: expected a date"));
    CHECK(contains(fx.failure("git_log", {{"rev", "nope"}}), "unknown revision"));
    CHECK(contains(fx.failure("git_log", {{"limit", 0}}), "ARGUMENT ERROR"));
}

TEST_CASE("git_show and git_blame") {
    GitFixture fx;
    auto r = fx.call("git_show", {{"rev", "HEAD"}});
    CHECK(r.data["id"] == fx.second);
    CHECK(r.data["parents"][0] == fx.first);
    CHECK(contains(r.text, "Author: Bob <Bob@example.com>"));
    CHECK(contains(r.text, "    second: rename b"));
    CHECK(contains(r.text, "+int B;"));
    r = fx.call("git_show", {{"rev", fx.first.substr(0, 8)}});
    CHECK(r.data["files"].size() == 2);  // the root commit against an empty tree
    CHECK(contains(fx.failure("git_show", {{"rev", "deadbeef"}}), "unknown revision 'deadbeef'"));

    r = fx.call("git_blame", {{"path", "src/a.c"}, {"start_line", 2}, {"end_line", 3}});
    REQUIRE(r.data["lines"].size() == 2);
    CHECK(r.data["lines"][0]["author"] == "Bob");
    CHECK(r.data["lines"][0]["text"] == "int B;");
    CHECK(r.data["lines"][1]["author"] == "Alice");
    CHECK(r.data["lines"][1]["line"] == 3);
    fx.file("untracked.c", "x\n");
    CHECK(contains(fx.failure("git_blame", {{"path", "untracked.c"}}), "is not in HEAD"));
    CHECK(contains(fx.failure("git_blame", {{"path", "src/a.c"}, {"start_line", 9}}),
                   "past the end"));
}

TEST_CASE("git_branches and git_commit") {
    GitFixture fx;
    git_object* head = nullptr;
    REQUIRE(git_revparse_single(&head, fx.repo.raw(), "HEAD~1") == 0);
    git_reference* branch = nullptr;
    REQUIRE(git_branch_create(&branch, fx.repo.raw(), "feature",
                              reinterpret_cast<git_commit*>(head), 0) == 0);
    git_reference_free(branch);
    git_object_free(head);
    auto r = fx.call("git_branches", json::object());
    REQUIRE(r.data["branches"].size() == 2);
    CHECK(contains(r.text, "  feature "));
    CHECK(contains(r.text, "* " + fx.repo.head_name()));

    CHECK(contains(fx.failure("git_commit", {{"message", "nothing"}}), "nothing to commit"));
    fx.file("src/new.c", "int n;\n");
    std::filesystem::remove(fx.root() / "docs/x.md");
    r = fx.call("git_commit",
                {{"message", "add new, drop x"}, {"paths", {"src/new.c", "docs/x.md"}}});
    CHECK(r.data["files_changed"] == 2);
    r = fx.call("git_show", {{"rev", "HEAD"}});
    CHECK(contains(r.text, "add new, drop x"));
    CHECK(r.data["files"].size() == 2);
    CHECK(fx.call("git_status", json::object()).data["clean"] == true);
    CHECK(contains(fx.failure("git_commit", {{"message", "x"}, {"paths", {"ghost.c"}}}),
                   "does not exist and is not tracked"));
    CHECK(contains(fx.failure("git_commit", {{"message", "  "}}), "message is empty"));
    fx.ctx.granted = {Permission::read};
    CHECK(contains(fx.failure("git_commit", {{"message", "x"}}), "needs write permission"));
}
