// Background jobs: start, poll new output, stop the whole tree; the final result says how it ended.

#include <catch2/catch.hpp>

#include <thread>

#include "sandbox/jobs.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::sandbox;
using osprey::test::TempDir;
using namespace std::chrono_literals;

namespace {

Policy background_policy(const std::filesystem::path& ws) {
    Policy p;
    p.workspace = ws;
    p.limits.timeout = std::chrono::milliseconds(0);  // background: until stopped
    return p;
}

}  // namespace

TEST_CASE("a background job streams output between polls and is stopped with its tree") {
    TempDir ws;
    Jobs jobs;
    const int id = jobs.start(Command::shell("for i in 1 2 3; do echo tick $i; sleep 0.2; done; "
                                             "sleep 60 & sleep 60"),
                              background_policy(ws.path()), "ticker");
    std::string seen;
    for (int i = 0; i < 50 && seen.find("tick 3") == std::string::npos; ++i) {
        const JobStatus s = jobs.poll(id, 500ms);
        CHECK(s.running);
        seen += s.new_stdout;
    }
    CHECK(seen == "tick 1\ntick 2\ntick 3\n");
    CHECK(jobs.poll(id).new_stdout.empty());  // nothing twice
    const JobStatus stopped = jobs.stop(id);
    CHECK_FALSE(stopped.running);
    REQUIRE(stopped.result);
    CHECK(stopped.result->reason == EndReason::stopped);
    CHECK(stopped.result->out == "tick 1\ntick 2\ntick 3\n");
    REQUIRE(jobs.list().size() == 1);
    CHECK(jobs.list()[0].label == "ticker");
    jobs.remove(id);
    CHECK(jobs.list().empty());
    CHECK_THROWS_AS(jobs.poll(id), SandboxError);
}

TEST_CASE("a background job that ends by itself reports its exit") {
    TempDir ws;
    Jobs jobs;
    const int id = jobs.start(Command::shell("echo done; echo warn >&2; exit 4"),
                              background_policy(ws.path()));
    JobStatus s = jobs.poll(id, 10s);
    for (int i = 0; i < 100 && s.running; ++i) {
        s = jobs.poll(id, 100ms);
    }
    REQUIRE_FALSE(s.running);
    REQUIRE(s.result);
    CHECK(s.result->reason == EndReason::exited);
    CHECK(s.result->exit_code == 4);
    CHECK(s.result->out == "done\n");
    CHECK(s.result->err == "warn\n");
}

TEST_CASE("the number of running jobs is bounded") {
    TempDir ws;
    Jobs jobs(1);
    const int id = jobs.start(Command::shell("sleep 60"), background_policy(ws.path()));
    CHECK_THROWS_AS(jobs.start(Command::shell("true"), background_policy(ws.path())), SandboxError);
    jobs.stop(id);
    const int next = jobs.start(Command::shell("true"), background_policy(ws.path()));
    CHECK(next == id + 1);
}
