#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/support/temp_dir.hpp"
#include "tools/git/repository.hpp"

using namespace osprey::tools;
using osprey::test::TempDir;

TEST_CASE("a new repository is found from a subfolder and has an unborn HEAD") {
    TempDir dir;
    const auto root = std::filesystem::canonical(dir.path());
    Repository::init(root);
    std::filesystem::create_directories(root / "src" / "deep");

    const Repository repo = Repository::discover(root / "src" / "deep");
    CHECK(std::filesystem::equivalent(repo.workdir(), root));
    CHECK(std::filesystem::equivalent(repo.git_dir(), root / ".git"));
    CHECK_FALSE(repo.is_bare());
    CHECK(repo.head_unborn());
    CHECK_THROWS_AS(repo.head_name(), GitError);
}

TEST_CASE("a folder outside any repository gives an error naming it") {
    TempDir dir;
    try {
        Repository::discover(dir.path());
        FAIL("found a repository in an empty temp folder");
    } catch (const GitError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("no git repository at or above " + dir.path().string()) !=
              std::string::npos);
    }
}
