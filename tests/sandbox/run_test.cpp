// sandbox::run basics: capture, exit status, timeouts that kill the whole tree, output caps, the
// workspace-write view of the filesystem.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

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

TEST_CASE("read-only keeps even the workspace read-only, the private /tmp writable") {
    TempDir ws;
    Policy p = policy_for(ws.path());
    p.mode = Mode::read_only;
    const auto r = run(Command::shell("echo x > in-workspace.txt; echo y > /tmp/scratch && cat "
                                      "/tmp/scratch"),
                       p);
    INFO(r.explain());
    if (!r.protection.mount_namespace) {
        WARN("SKIP: no mount namespace here (see osprey sandbox check)");
        return;
    }
    CHECK(r.out == "y\n");
    CHECK_FALSE(std::filesystem::exists(ws.path() / "in-workspace.txt"));
    REQUIRE_FALSE(r.denials.empty());
    CHECK(r.denials[0].why.find("policy read-only") != std::string::npos);
}

TEST_CASE("full runs unconfined but still scrubs credentials and enforces the timeout") {
    TempDir ws;
    TempDir outside;
    Policy p = policy_for(ws.path());
    p.mode = Mode::full;
    CHECK_THROWS_WITH(run(Command::shell("true"), p), Catch::Contains("explicit consent"));
    p.full_consent = true;
    p.limits.timeout = std::chrono::seconds(5);
    Command c = Command::shell("echo x > " + (outside.path() / "f").string() +
                               "; echo \"token=${GITHUB_TOKEN:-none} path=${PATH:+set}\"");
    c.environment = std::vector<std::string>{"PATH=/usr/bin:/bin", "GITHUB_TOKEN=ghp_secret"};
    const auto r = run(c, p);
    CHECK(r.ok());
    CHECK(r.out == "token=none path=set\n");
    CHECK(std::filesystem::exists(outside.path() / "f"));
    CHECK_FALSE(r.protection.mount_namespace);
    CHECK_FALSE(r.protection.seccomp);
}

TEST_CASE("credentials never reach a confined command, set_environment does") {
    TempDir ws;
    Command c = Command::shell("env | sort");
    c.environment = std::vector<std::string>{"PATH=/usr/bin:/bin", "AWS_SECRET_ACCESS_KEY=s",
                                             "OPENAI_API_KEY=k", "LANG=C", "RANDOM_VAR=1"};
    c.set_environment = {"OSPREY_JOB=7"};
    const auto r = run(c, policy_for(ws.path()));
    CHECK(r.ok());
    CHECK(r.out.find("AWS_SECRET") == std::string::npos);
    CHECK(r.out.find("OPENAI") == std::string::npos);
    CHECK(r.out.find("RANDOM_VAR") == std::string::npos);
    CHECK(r.out.find("LANG=C\n") != std::string::npos);
    CHECK(r.out.find("OSPREY_JOB=7\n") != std::string::npos);
    // The private temp dir: /tmp itself in a mount namespace, a private folder without one.
    CHECK(r.out.find(r.protection.mount_namespace
                         ? "TMPDIR=/tmp\n"
                         : "TMPDIR=/tmp/osprey-sandbox-") != std::string::npos);
}

TEST_CASE("a missing workspace or command is a SandboxError naming it") {
    TempDir ws;
    Policy p = policy_for(ws.path() / "nope");
    try {
        run(Command::shell("true"), p);
        FAIL("expected SandboxError");
    } catch (const SandboxError& e) {
        CHECK(std::string(e.what()).find("nope") != std::string::npos);
    }
    Command c;
    c.argv = {"osprey-no-such-command"};
    CHECK_THROWS_WITH(run(c, policy_for(ws.path())),
                      Catch::Contains("command not found: 'osprey-no-such-command'"));
}

TEST_CASE("a process can be driven asynchronously through its descriptors") {
    TempDir ws;
    Process proc =
        Process::start(Command::shell("echo one; sleep 0.2; echo two"), policy_for(ws.path()));
    CHECK(proc.pidfd() >= 0);
    CHECK(proc.stdout_fd() >= 0);
    std::string streamed;
    while (proc.pump()) {
        streamed += proc.take_new_stdout();
        pollfd fds[2] = {{proc.stdout_fd(), POLLIN, 0}, {proc.pidfd(), POLLIN, 0}};
        poll(fds, proc.stdout_fd() >= 0 ? 2 : 1, 100);
    }
    streamed += proc.take_new_stdout();
    CHECK(streamed == "one\ntwo\n");
    CHECK(proc.finish().ok());
}

TEST_CASE("dropping a running Process kills its whole tree, with or without namespaces") {
    for (const bool namespaces : {true, false}) {
        INFO("namespaces " << namespaces);
        TempDir ws;
        Policy p = policy_for(ws.path());
        p.namespaces = namespaces;
        const auto marker = ws.path() / "survived";
        {
            Process proc = Process::start(Command::shell("setsid sh -c 'sleep 1; echo x > " +
                                                         marker.string() + "' & sleep 30"),
                                          p);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        CHECK_FALSE(std::filesystem::exists(marker));
    }
}

TEST_CASE("stop() lets the command's SIGTERM handler run, then kills what ignores it") {
    for (const bool namespaces : {true, false}) {
        INFO("namespaces " << namespaces);
        TempDir ws;
        Policy p = policy_for(ws.path());
        p.namespaces = namespaces;
        p.limits.stop_grace = std::chrono::milliseconds(3000);
        const auto cleaned = ws.path() / "cleaned";
        // bash runs a trap while it waits on a background job.
        Process proc =
            Process::start(Command::shell("trap 'echo bye > " + cleaned.string() +
                                          "; exit 5' TERM; echo ready; sleep 30 & wait $!"),
                           p);
        std::string out;
        while (out.find("ready") == std::string::npos && proc.pump()) {
            out += proc.take_new_stdout();
            pollfd fds[1] = {{proc.stdout_fd(), POLLIN, 0}};
            poll(fds, 1, 50);
        }
        const auto t0 = std::chrono::steady_clock::now();
        proc.stop();
        const RunResult r = proc.finish();
        CHECK(r.reason == EndReason::stopped);
        CHECK(r.signal == SIGTERM);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2500));
        CHECK(std::filesystem::exists(cleaned));

        // A command that ignores SIGTERM is killed once the grace period is over.
        p.limits.stop_grace = std::chrono::milliseconds(300);
        Process stubborn =
            Process::start(Command::shell("trap '' TERM; echo ready; sleep 30; echo late"), p);
        out.clear();
        while (out.find("ready") == std::string::npos && stubborn.pump()) {
            out += stubborn.take_new_stdout();
            pollfd fds[1] = {{stubborn.stdout_fd(), POLLIN, 0}};
            poll(fds, 1, 50);
        }
        const auto t1 = std::chrono::steady_clock::now();
        stubborn.stop();
        const RunResult killed = stubborn.finish();
        CHECK(killed.reason == EndReason::stopped);
        CHECK(killed.out.find("late") == std::string::npos);
        CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(5));
    }
}

TEST_CASE("without namespaces a timeout still kills setsid-detached children") {
    TempDir ws;
    Policy p = policy_for(ws.path());
    p.namespaces = false;
    p.limits.timeout = std::chrono::milliseconds(500);
    const auto marker = ws.path() / "survived";
    const auto r = run(
        Command::shell("setsid sh -c 'sleep 1; echo x > " + marker.string() + "' & sleep 30"), p);
    CHECK(r.reason == EndReason::timeout);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("network: true shares the host's network (a permission rule)") {
    TempDir ws;
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    Policy p = policy_for(ws.path());
    p.network = true;
    const auto r = run(Command::shell("exec 3<>/dev/tcp/127.0.0.1/" +
                                      std::to_string(ntohs(addr.sin_port)) + " && echo connected"),
                       p);
    INFO(r.explain() << r.err);
    CHECK(r.out == "connected\n");
    CHECK_FALSE(r.protection.network_namespace);
    CHECK(r.denials.empty());
    close(listener);
}

TEST_CASE("writing past the file size limit is stopped and explained") {
    TempDir ws;
    Policy p = policy_for(ws.path());
    p.limits.file_size_bytes = 1 << 20;
    const auto r = run(Command::shell("head -c 4000000 /dev/zero > big.bin"), p);
    INFO(r.explain());
    CHECK(r.exit_code == 128 + SIGXFSZ);
    CHECK(std::filesystem::file_size(ws.path() / "big.bin") <= (1u << 20));
    REQUIRE_FALSE(r.denials.empty());
    CHECK(r.denials[0].kind == "file-size-cap");
}
