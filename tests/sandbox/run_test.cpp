// sandbox::run basics: capture, exit status, timeouts that kill the whole tree, output caps, the
// workspace-write view of the filesystem.

#include <catch2/catch.hpp>

#include <fstream>

#include "sandbox/run.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::sandbox;
using osprey::test::TempDir;
namespace fs = std::filesystem;

namespace {

Policy policy_for(const fs::path& workspace) {
    Policy p;
    p.workspace = workspace;
    p.limits.timeout = std::chrono::seconds(20);
    return p;
}

}  // namespace

TEST_CASE("run captures stdout, stderr and the exit code") {
    TempDir ws;
    const auto r = run(Command::shell("echo hello; echo oops >&2; exit 3"), policy_for(ws.path()));
    INFO(r.explain());
    CHECK(r.reason == EndReason::exited);
    CHECK(r.exit_code == 3);
    CHECK(r.out == "hello\n");
    CHECK(r.err == "oops\n");
}

TEST_CASE("stdin data reaches the command") {
    TempDir ws;
    Command c = Command::shell("tr a-z A-Z");
    c.stdin_data = "shout\n";
    const auto r = run(c, policy_for(ws.path()));
    CHECK(r.out == "SHOUT\n");
}

TEST_CASE("the workspace is writable and the rest is not") {
    TempDir ws;
    const auto r =
        run(Command::shell("echo data > made.txt && cat made.txt && pwd"), policy_for(ws.path()));
    INFO(r.explain() << r.err);
    CHECK(r.ok());
    CHECK(r.out == "data\n" + ws.path().string() + "\n");
    std::ifstream in(ws.path() / "made.txt");
    std::string line;
    std::getline(in, line);
    CHECK(line == "data");
}

TEST_CASE("a timeout kills the whole tree") {
    TempDir ws;
    Policy p = policy_for(ws.path());
    p.limits.timeout = std::chrono::milliseconds(500);
    const auto r = run(Command::shell("sleep 30 & sleep 30"), p);
    INFO(r.explain());
    CHECK(r.reason == EndReason::timeout);
    CHECK(r.wall < std::chrono::seconds(5));
}

TEST_CASE("output beyond the cap is cut with a marker") {
    TempDir ws;
    Policy p = policy_for(ws.path());
    p.limits.output_bytes = 1000;
    const auto r = run(Command::shell("seq 1 100000"), p);
    CHECK(r.ok());
    CHECK(r.out_total > 500000);
    CHECK(r.out.size() < 1100);
    CHECK(r.out.find("bytes cut by the output cap") != std::string::npos);
    CHECK(r.out.rfind("100000\n") == r.out.size() - 7);
    CHECK(r.out.rfind("1\n2\n3\n", 0) == 0);
}

TEST_CASE("output past the stop cap ends the command") {
    TempDir ws;
    Policy p = policy_for(ws.path());
    p.limits.output_stop_bytes = 1 << 20;
    const auto r = run(Command::shell("yes"), p);
    CHECK(r.reason == EndReason::output_cap);
}
