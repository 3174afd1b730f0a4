// `osprey run --resume` and `--fork` with the scripted backend: a tool cut off by kill -9 is
// reported as interrupted and never re-run, a follow-up prompt continues the same context, a fork
// starts from a parent's step, and bad references are usage errors.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "memory/tool_log.hpp"
#include "tests/agent/run_support.hpp"

using namespace osprey::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<json> lines_of(const std::string& out) {
    std::vector<json> events;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        events.push_back(json::parse(line));
    }
    return events;
}

std::vector<std::string> stream(const Task& task, std::vector<std::string> extra) {
    std::vector<std::string> a = task.args({"--permission", "auto", "--output", "stream-json"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

TEST_CASE("resume: a tool cut off by kill -9 is reported interrupted and not run again") {
    Task task;
    task.set_script({
        turn("Append once.", "",
             {invoke("shell", {{"command", "sleep 0.6 && echo ran >> ran.txt"}})}),
        turn("", "Appended."),
    });
    const fs::path out = task.tmp.path() / "out.jsonl";
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        const int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        auto argv = stream(task, {"append"});
        std::vector<char*> args;
        for (auto& a : argv) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    // Wait until the shell call is journaled and running, then kill.
    bool started = false;
    for (int i = 0; i < 500 && !started; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        started = read_text(out).find("\"type\":\"tool.call\"") != std::string::npos;
    }
    REQUIRE(started);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    CHECK_FALSE(fs::exists(task.repo / "ran.txt"));  // the sandboxed child died with osprey

    const std::string session = lines_of(read_text(out)).front().at("session");
    const ProcessResult r = run_process(stream(task, {"--resume", "last"}));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto events = lines_of(r.out);
    CHECK(events.front().at("session") == session);
    CHECK(events.front().at("resumed_from") == session);
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 2);
    CHECK(results[0].at("call_id") == "call_1_0");
    CHECK(results[0].at("status") == "interrupted");
    CHECK(results[0].at("output").get<std::string>().find("not run again") != std::string::npos);
    // The scripted model, told of the interruption, issues the call again as a new step.
    CHECK(results[1].at("call_id") == "call_2_0");
    CHECK(results[1].at("status") == "ok");
    CHECK(events.back().at("final_text") == "Appended.");
    CHECK(read_text(task.repo / "ran.txt") == "ran\n");

    auto store = osprey::memory::Store::open(task.data);
    osprey::memory::ToolLog log(store.db());
    const auto first = log.find(
        session,
        of_type(lines_of(read_text(out)), "tool.call").front().at("seq").get<std::int64_t>());
    REQUIRE(first.has_value());
    CHECK(first->status == osprey::memory::ToolStatus::interrupted);
    CHECK(osprey::memory::Sessions(store.db()).find(session)->status ==
          osprey::memory::SessionStatus::completed);
}

TEST_CASE("resume: a follow-up prompt continues the same context without prefilling it again") {
    Task task;
    task.set_script({turn("", "First answer."), turn("", "Second answer.")});
    const ProcessResult first = run_process(stream(task, {"question one"}));
    REQUIRE(first.exit_code == 0);
    const auto done = lines_of(first.out).back();
    const std::int64_t context = done.at("context_tokens");
    const std::string session = done.at("session");

    const ProcessResult again = run_process(stream(task, {"--resume", session, "question two"}));
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    const auto events = lines_of(again.out);
    CHECK(events.front().at("restored_tokens") == context);
    CHECK(events.front().at("replayed_tokens") == 0);
    CHECK(events.front().at("seq") == lines_of(first.out).size());  // the stream goes on
    const auto started = of_type(events, "turn.started");
    REQUIRE(started.size() == 1);
    // Only the new user message (and the assistant opener) is prefilled.
    CHECK(started[0].at("prompt_tokens").get<std::int64_t>() < 40);
    CHECK(events.back().at("final_text") == "Second answer.");
    CHECK(events.back().at("context_tokens").get<std::int64_t>() > context);

    // Resuming a finished task without a prompt just reports its answer.
    const ProcessResult idle = run_process(stream(task, {"--resume", session}));
    REQUIRE(idle.exit_code == 0);
    CHECK(lines_of(idle.out).back().at("final_text") == "Second answer.");
    CHECK(of_type(lines_of(idle.out), "turn.started").empty());
}

TEST_CASE("fork: a new session starts from the parent's state after a step") {
    Task task;
    task.set_script({
        turn("", "", {invoke("write", {{"path", "a.txt"}, {"content", "A\n"}})}),
        turn("", "", {invoke("write", {{"path", "b.txt"}, {"content", "B\n"}})}),
        turn("", "Wrote both."),
    });
    const ProcessResult parent = run_process(stream(task, {"write the files"}));
    REQUIRE(parent.exit_code == 0);
    const auto parent_events = lines_of(parent.out);
    const std::string parent_id = parent_events.front().at("session");
    const auto usage = of_type(parent_events, "usage");
    REQUIRE(usage.size() == 3);

    fs::remove(task.repo / "b.txt");
    const ProcessResult forked =
        run_process(stream(task, {"--fork", parent_id + "@1", "now write b.txt"}));
    INFO(forked.err);
    REQUIRE(forked.exit_code == 0);
    const auto events = lines_of(forked.out);
    const std::string fork_id = events.front().at("session");
    CHECK(fork_id != parent_id);
    CHECK(events.front().at("resumed_from") == parent_id);
    // The fork holds the parent's context as it was after step 1 (before its tool results).
    CHECK(events.front().at("restored_tokens") == usage[0].at("context_tokens"));
    CHECK(events.back().at("exit_reason") == "done");
    CHECK(events.back().at("final_text") == "Wrote both.");
    CHECK(read_text(task.repo / "b.txt") == "B\n");

    auto store = osprey::memory::Store::open(task.data);
    const auto rec = osprey::memory::Sessions(store.db()).find(fork_id);
    REQUIRE(rec.has_value());
    CHECK(rec->parent_id == parent_id);
    CHECK(rec->fork_step == 1);
}

TEST_CASE("resume and fork: bad references and mismatches are usage errors") {
    Task task;
    task.set_script({turn("", "ok")});
    REQUIRE(run_process(stream(task, {"hello"})).exit_code == 0);

    const ProcessResult none = run_process(stream(task, {"--resume", "nosuch"}));
    CHECK(none.exit_code == 2);
    CHECK(none.err.find("no session matches 'nosuch'") != std::string::npos);

    const ProcessResult both = run_process(stream(task, {"--resume", "last", "--fork", "last"}));
    CHECK(both.exit_code == 2);
    CHECK(both.err.find("either --resume or --fork") != std::string::npos);

    const ProcessResult step = run_process(stream(task, {"--fork", "last@two", "go"}));
    CHECK(step.exit_code == 2);
    CHECK(step.err.find("must be a number") != std::string::npos);

    const ProcessResult far = run_process(stream(task, {"--fork", "last@7", "go"}));
    CHECK(far.exit_code == 2);
    CHECK(far.err.find("has no step 7") != std::string::npos);

    const fs::path other = task.tmp.path() / "other.json";
    write_text(other, json({turn("", "ok")}).dump());
    auto args = task.args({"--resume", "last"});
    args[3] = "scripted:" + other.string();
    const ProcessResult model = run_process(args);
    CHECK(model.exit_code == 2);
    CHECK(model.err.find("with the same --model") != std::string::npos);
}

TEST_CASE("rewind: files changed after the step come back, and --resume goes on from it") {
    Task task;
    write_text(task.repo / "a.txt", "original\n");
    task.set_script({
        turn("", "", {invoke("write", {{"path", "a.txt"}, {"content", "one\n"}})}),
        turn("", "",
             {invoke("edit", {{"path", "a.txt"}, {"old_text", "one"}, {"new_text", "two"}}),
              invoke("write", {{"path", "b.txt"}, {"content", "new\n"}})}),
        turn("", "Done."),
    });
    const ProcessResult first = run_process(stream(task, {"change things"}));
    REQUIRE(first.exit_code == 0);
    const auto events = lines_of(first.out);
    const std::string id = events.front().at("session");
    const std::int64_t after_step1 = of_type(events, "usage").at(0).at("context_tokens");
    REQUIRE(read_text(task.repo / "a.txt") == "two\n");

    const auto rewind = [&](const std::string& step, const std::string& answer) {
        const fs::path in = task.tmp.path() / "answer.txt";
        write_text(in, answer);
        const std::string cmd = std::string(OSPREY_BINARY) + " sessions rewind " + id + " " + step +
                                " --data-dir '" + task.data.string() + "' < '" + in.string() +
                                "' > '" + (task.tmp.path() / "rewind.out").string() + "' 2>&1";
        const int rc = std::system(cmd.c_str());
        return std::make_pair(WEXITSTATUS(rc), read_text(task.tmp.path() / "rewind.out"));
    };
    // Declined: nothing changes.
    auto [no_rc, no_out] = rewind("1", "n\n");
    CHECK(no_rc == 1);
    CHECK(no_out.find("restore a.txt") != std::string::npos);
    CHECK(no_out.find("delete b.txt") != std::string::npos);
    CHECK(no_out.find("nothing changed") != std::string::npos);
    CHECK(read_text(task.repo / "a.txt") == "two\n");

    auto [rc, out] = rewind("1", "y\n");
    INFO(out);
    CHECK(rc == 0);
    CHECK(read_text(task.repo / "a.txt") == "one\n");
    CHECK_FALSE(fs::exists(task.repo / "b.txt"));
    CHECK(rewind("7", "y\n").first == 1);  // no such step

    // The session goes on from step 1: its context is what it held then.
    const ProcessResult again = run_process(stream(task, {"--resume", id}));
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    const auto resumed = lines_of(again.out);
    CHECK(resumed.front().at("restored_tokens") == after_step1);
    CHECK(resumed.back().at("final_text") == "Done.");
    CHECK(read_text(task.repo / "a.txt") == "two\n");
    CHECK(read_text(task.repo / "b.txt") == "new\n");
}
