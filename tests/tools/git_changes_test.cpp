// tools/git/changes: what a change touches (new-side line ranges per file) and files at a revision,
// through libgit2, on repositories made with the git CLI.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "tools/git/changes.hpp"
#include "tools/git/repository.hpp"

using namespace osprey;

namespace {

void write(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

struct Repo {
    test::TempDir tmp;
    std::filesystem::path root = tmp.path() / "repo";
    Repo() {
        std::filesystem::create_directories(root);
        git("init -q");
    }
    void git(const std::string& args) const {
        const std::string cmd = "cd '" + root.string() +
                                "' && git -c user.name=t -c user.email=t@t "
                                "-c init.defaultBranch=main " +
                                args;
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
};

const tools::ChangedFile* find(const tools::Change& c, const std::string& path) {
    for (const auto& f : c.files) {
        if (f.path == path) {
            return &f;
        }
    }
    return nullptr;
}

std::string lines(const tools::ChangedFile& f) {
    std::string s;
    for (const auto& r : f.lines) {
        s += (s.empty() ? "" : ",") + std::to_string(r.start) + "-" + std::to_string(r.end);
    }
    return s;
}

}  // namespace

TEST_CASE("changes: uncommitted edits, untracked files, deletions") {
    Repo r;
    write(r.root / "a.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
    write(r.root / "gone.txt", "bye\n");
    write(r.root / "cut.txt", "a\nb\nc\nd\n");
    r.git("add -A");
    r.git("commit -qm init");
    write(r.root / "a.txt", "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n");
    write(r.root / "new/b.txt", "x\ny\n");
    std::filesystem::remove(r.root / "gone.txt");
    write(r.root / "cut.txt", "a\nd\n");
    const tools::Change c = tools::uncommitted_change(r.root);
    CHECK(c.description == "HEAD vs working tree");
    CHECK(c.revision.empty());
    REQUIRE(find(c, "a.txt") != nullptr);
    CHECK(lines(*find(c, "a.txt")) == "3-3,11-12");
    REQUIRE(find(c, "new/b.txt") != nullptr);
    CHECK(find(c, "new/b.txt")->status == "added");
    CHECK(lines(*find(c, "new/b.txt")) == "1-2");
    REQUIRE(find(c, "gone.txt") != nullptr);
    CHECK(find(c, "gone.txt")->status == "deleted");
    CHECK(find(c, "gone.txt")->lines.empty());
    REQUIRE(find(c, "cut.txt") != nullptr);
    CHECK(lines(*find(c, "cut.txt")) == "1-1");  // a pure deletion: the line before it
    CHECK(c.patch.find("+three") != std::string::npos);
    CHECK(c.patch.find("+x") != std::string::npos);
}

TEST_CASE("changes: commits, ranges, merge bases and files at a revision") {
    Repo r;
    write(r.root / "f.txt", "one\n");
    r.git("add -A");
    r.git("commit -qm first");
    const tools::Change root_commit = tools::commit_change(r.root, "HEAD");
    REQUIRE(root_commit.files.size() == 1);
    CHECK(lines(root_commit.files[0]) == "1-1");
    CHECK(root_commit.revision == tools::resolve_commit(r.root, "HEAD"));
    r.git("checkout -qb topic");
    write(r.root / "f.txt", "one\ntwo\n");
    r.git("commit -qam second");
    r.git("checkout -q main");
    write(r.root / "g.txt", "main only\n");
    r.git("add -A");
    r.git("commit -qm third");
    // main..topic compares the trees (g.txt deleted, f.txt grown); main...topic only topic's work.
    const tools::Change two = tools::range_change(r.root, "main", "topic", false);
    CHECK(find(two, "g.txt") != nullptr);
    const tools::Change three = tools::range_change(r.root, "main", "topic", true);
    CHECK(find(three, "g.txt") == nullptr);
    REQUIRE(find(three, "f.txt") != nullptr);
    CHECK(lines(*find(three, "f.txt")) == "2-2");
    CHECK(three.revision == tools::resolve_commit(r.root, "topic"));
    const tools::Change base = tools::base_change(r.root, "topic");  // from main: nothing of topic
    CHECK(find(base, "f.txt") == nullptr);

    CHECK(tools::file_at(r.root, three.revision, "f.txt") == "one\ntwo\n");
    CHECK(tools::file_at(r.root, "", "f.txt") == "one\n");  // the working tree (main)
    CHECK_FALSE(tools::file_at(r.root, three.revision, "g.txt").has_value());
    CHECK_FALSE(tools::file_at(r.root, "", "../outside").has_value());
    CHECK_FALSE(tools::file_at(r.root, "", "/etc/passwd").has_value());

    CHECK_THROWS_WITH(tools::commit_change(r.root, "nope"),
                      Catch::Contains("unknown revision 'nope'"));
    CHECK_THROWS_AS(tools::resolve_commit(r.root, "nope"), tools::GitError);
    test::TempDir plain;
    CHECK_THROWS_AS(tools::repository_root(plain.path()), tools::GitError);
}
