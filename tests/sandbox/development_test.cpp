// Normal development inside workspace-write: a CMake project configures and builds, Python runs,
// `git status` works on the read-only .git, pipes and here-docs behave.

#include <unistd.h>
#include <catch2/catch.hpp>

#include <fstream>

#include "sandbox/run.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::sandbox;
using osprey::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

bool have(const char* program) {
    for (const char* dir : {"/usr/local/bin/", "/usr/bin/", "/bin/"}) {
        if (access((std::string(dir) + program).c_str(), X_OK) == 0) {
            return true;
        }
    }
    return false;
}

struct Project {
    TempDir workspace;
    TempDir home;
    Policy policy;
    Project() {
        policy.workspace = workspace.path();
        policy.home = home.path();
        policy.limits.timeout = std::chrono::seconds(120);
    }
    RunResult sh(const std::string& script) const {
        Command c = Command::shell(script);
        c.environment = std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin",
                                                 "HOME=" + home.path().string(), "LANG=C.UTF-8"};
        RunResult r = run(c, policy);
        UNSCOPED_INFO("script: " << script << "\nstdout: " << r.out << "\nstderr: " << r.err << "\n"
                                 << r.explain());
        return r;
    }
};

}  // namespace

TEST_CASE("a small CMake project configures, builds and runs", "[development]") {
    if (!have("cmake") || !have("cc")) {
        WARN("SKIP: cmake or cc is not installed");
        return;
    }
    Project p;
    write_file(p.workspace.path() / "CMakeLists.txt",
               "cmake_minimum_required(VERSION 3.16)\nproject(hello C)\n"
               "add_executable(hello main.c)\n");
    write_file(p.workspace.path() / "main.c",
               "#include <stdio.h>\nint main(void) { puts(\"hello from the sandbox\"); return 0; "
               "}\n");
    const auto r = p.sh(
        "cmake -S . -B build -G 'Unix Makefiles' >/dev/null && cmake --build "
        "build && ./build/hello");
    CHECK(r.ok());
    CHECK(r.out.find("hello from the sandbox") != std::string::npos);
    CHECK(fs::exists(p.workspace.path() / "build/hello"));
}

TEST_CASE("a Python script runs and writes in the workspace", "[development]") {
    if (!have("python3")) {
        WARN("SKIP: python3 is not installed");
        return;
    }
    Project p;
    write_file(p.workspace.path() / "script.py",
               "import json, pathlib, tempfile\n"
               "pathlib.Path('out.json').write_text(json.dumps({'sum': sum(range(10))}))\n"
               "with tempfile.NamedTemporaryFile() as f: f.write(b'x')\n"
               "print(pathlib.Path('out.json').read_text())\n");
    const auto r = p.sh("python3 script.py");
    CHECK(r.ok());
    CHECK(r.out == "{\"sum\": 45}\n");
}

TEST_CASE("git status works on the read-only .git", "[development]") {
    if (!have("git")) {
        WARN("SKIP: git is not installed");
        return;
    }
    Project p;
    write_file(p.workspace.path() / "tracked.txt", "one\n");
    const std::string ws = p.workspace.path().string();
    // Set up the repository outside the sandbox, as the user would have.
    const std::string setup = "cd '" + ws +
                              "' && git init -q -b main && git add tracked.txt && git -c "
                              "user.name=t -c user.email=t@example.com commit -qm init";
    REQUIRE(std::system(setup.c_str()) == 0);
    write_file(p.workspace.path() / "tracked.txt", "two\n");
    write_file(p.workspace.path() / "new.txt", "new\n");
    const auto r = p.sh("git status --porcelain && git diff --stat && git log --oneline | wc -l");
    CHECK(r.ok());
    CHECK(r.out.find(" M tracked.txt") != std::string::npos);
    CHECK(r.out.find("?? new.txt") != std::string::npos);
    // Writing git commands are refused (read-only .git) and explained.
    if (!r.protection.mount_namespace) {
        WARN("SKIP: no mount namespace here: .git is not read-only (see osprey sandbox check)");
        return;
    }
    const auto commit = p.sh("git add new.txt");
    CHECK_FALSE(commit.ok());
    bool explained = false;
    for (const auto& d : commit.denials) {
        explained = explained || d.why.find(".git") != std::string::npos;
    }
    CHECK(explained);
}

TEST_CASE("pipes, here-docs and redirections work", "[development]") {
    Project p;
    const auto r = p.sh(
        "seq 1 100 | grep 7 | wc -l\n"
        "cat > notes.txt <<'EOF'\nline $HOME\nsecond\nEOF\n"
        "wc -l < notes.txt\n"
        "cat <<EOF | tr a-z A-Z\nupper\nEOF\n"
        "head -1 notes.txt");
    CHECK(r.ok());
    CHECK(r.out == "19\n2\nUPPER\nline $HOME\n");
}
