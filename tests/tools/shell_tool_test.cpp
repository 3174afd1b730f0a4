// The shell tool through sandbox/: exit status, timeout, output cap, background jobs, policy.
#include <catch2/catch.hpp>

#include "sandbox/run.hpp"
#include "tests/tools/tool_test_support.hpp"

using namespace osprey::tools;
using nlohmann::json;
using osprey::test::contains;

namespace {

// The sandbox needs namespaces or Landlock; where none can be set up, say so instead of failing.
bool sandbox_usable(osprey::test::ToolFixture& fx, std::string& why) {
    try {
        const auto r = fx.call("shell", {{"command", "true"}});
        if (r.data["exit_code"] == 0)
            return true;
        why = r.text;
    } catch (const ToolError& e) {
        why = e.what();
    }
    return false;
}

}  // namespace

TEST_CASE("shell runs in the workspace and reports exit status and output") {
    osprey::test::ToolFixture fx;
    std::string why;
    if (!sandbox_usable(fx, why)) {
        WARN("SKIP: the sandbox cannot run commands here: " << why);
        return;
    }
    fx.file("a.txt", "hello\n");
    auto r = fx.call("shell", {{"command", "cat a.txt; echo oops >&2; exit 3"}});
    CHECK(r.data["exit_code"] == 3);
    CHECK(r.data["reason"] == "exit");
    CHECK(r.data["stdout"] == "hello\n");
    CHECK(r.data["stderr"] == "oops\n");
    CHECK(contains(r.text, "hello\n[stderr]\noops\n"));
    CHECK(contains(r.text, "exit code 3"));

    // Writes land in the workspace (workspace-write).
    r = fx.call("shell", {{"command", "echo made > made.txt"}});
    CHECK(r.data["exit_code"] == 0);
    CHECK(osprey::test::slurp(fx.root() / "made.txt") == "made\n");

    r = fx.call("shell", {{"command", "pwd"}, {"cwd", "."}});
    CHECK(contains(r.data["stdout"].get<std::string>(), fx.root().filename().string()));
    CHECK(contains(fx.failure("shell", {{"command", "pwd"}, {"cwd", "../"}}), "outside"));
}

TEST_CASE("shell: timeout kills the command; output is capped; read-only without write") {
    osprey::test::ToolFixture fx;
    std::string why;
    if (!sandbox_usable(fx, why)) {
        WARN("SKIP: the sandbox cannot run commands here: " << why);
        return;
    }
    auto r = fx.call("shell", {{"command", "sleep 30"}, {"timeout_s", 1}});
    CHECK(r.data["timed_out"] == true);
    CHECK(r.data["wall_ms"].get<int>() < 10000);

    fx.ctx.max_output_chars = 4096;
    r = fx.call("shell", {{"command", "seq 1 100000"}});
    CHECK(r.data["exit_code"] == 0);
    CHECK(r.data["stdout_bytes"].get<std::size_t>() > 4096);
    CHECK(r.text.size() < 4096 + 1024);

    fx.ctx.granted = {Permission::read, Permission::execute};
    r = fx.call("shell", {{"command", "echo x > nope.txt"}});
    CHECK(r.data["exit_code"] != 0);
    CHECK(r.data["sandbox"] == "read-only");
    CHECK_FALSE(std::filesystem::exists(fx.root() / "nope.txt"));

    fx.ctx.granted = {Permission::read};
    CHECK(contains(fx.failure("shell", {{"command", "true"}}), "needs execute permission"));
    CHECK(contains(fx.failure("shell", {{"command", "true"}, {"timeout_s", 0}}), "ARGUMENT ERROR"));
}

TEST_CASE("shell background jobs are polled and stopped with job_output") {
    osprey::test::ToolFixture fx;
    std::string why;
    if (!sandbox_usable(fx, why)) {
        WARN("SKIP: the sandbox cannot run commands here: " << why);
        return;
    }
    auto r = fx.call("shell",
                     {{"command", "echo started; sleep 0.2; echo finished"}, {"background", true}});
    const int id = r.data["job_id"];
    r = fx.call("job_output", {{"job_id", id}, {"wait_s", 10}});
    CHECK(r.data["running"] == false);
    CHECK(r.data["exit_code"] == 0);
    CHECK(contains(r.data["stdout"].get<std::string>(), "finished"));
    CHECK(contains(fx.failure("job_output", {{"job_id", id}}), "no job"));

    r = fx.call("shell", {{"command", "sleep 60"}, {"background", true}});
    const int sleeper = r.data["job_id"];
    r = fx.call("job_output", {{"job_id", sleeper}});
    CHECK(r.data["running"] == true);
    r = fx.call("job_output", {{"job_id", sleeper}, {"stop", true}, {"wait_s", 10}});
    CHECK(r.data["running"] == false);
    CHECK(r.data["reason"] == "stopped");
}
