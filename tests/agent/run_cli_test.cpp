// `osprey run` with the scripted backend, driven from outside: a multi-step task in a temporary
// git repository, parallel tool calls, every error path of the agent loop, budgets, the loop guard,
// signals, usage errors, and the event stream checked against the schema and the journal.
#include <fcntl.h>
#include <poll.h>

#include <chrono>
#include <map>
#include <thread>

#include "memory/journal.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "memory/tool_log.hpp"
#include "tests/agent/run_support.hpp"

using nlohmann::json;
using namespace osprey::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// Sum of appended + decoded tokens over the usage events == the final context (each token once),
// and each step reuses exactly the context the previous step left.
void check_accounting(const std::vector<json>& events) {
    std::int64_t total = 0;
    std::int64_t previous_context = 0;
    for (const auto& u : of_type(events, "usage")) {
        CHECK(u.at("reused_tokens").get<std::int64_t>() == previous_context);
        total +=
            u.at("prompt_tokens").get<std::int64_t>() + u.at("decoded_tokens").get<std::int64_t>();
        CHECK(u.at("context_tokens").get<std::int64_t>() == total);
        previous_context = total;
    }
    const json done = events.back();
    REQUIRE(done.at("type") == "session.completed");
    CHECK(done.at("context_tokens").get<std::int64_t>() == total);
    CHECK(done.at("prompt_tokens").get<std::int64_t>() +
              done.at("decoded_tokens").get<std::int64_t>() ==
          total);
}

// A started `osprey run` whose stdout is read line by line while it runs.
class Running {
public:
    explicit Running(const std::vector<std::string>& argv) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            dup2(fds[1], 1);
            const int devnull = open("/dev/null", O_RDWR);
            dup2(devnull, 0);
            dup2(devnull, 2);
            close(fds[0]);
            std::vector<char*> args;
            for (const auto& a : argv) {
                args.push_back(const_cast<char*>(a.c_str()));
            }
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
        close(fds[1]);
        fd_ = fds[0];
    }
    ~Running() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(fd_);
    }
    // Reads until an event of `type` was printed (false after `seconds`).
    bool wait_for(const std::string& type, int seconds) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (std::chrono::steady_clock::now() < end) {
            if (contains(out_, "\"type\":\"" + type + "\"")) {
                return true;
            }
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) > 0) {
                char buf[4096];
                const ssize_t n = read(fd_, buf, sizeof buf);
                if (n <= 0) {
                    return contains(out_, "\"type\":\"" + type + "\"");
                }
                out_.append(buf, static_cast<std::size_t>(n));
            }
        }
        return false;
    }
    void signal(int sig) { kill(pid_, sig); }
    // Reads the rest and waits; returns the exit code (128 + signal when killed).
    int finish() {
        char buf[4096];
        ssize_t n = 0;
        while ((n = read(fd_, buf, sizeof buf)) > 0) {
            out_.append(buf, static_cast<std::size_t>(n));
        }
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    const std::string& out() const { return out_; }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    std::string out_;
};

}  // namespace

TEST_CASE("osprey run: read, edit, run the tests, answer in one session") {
    Task task;
    write_text(task.repo / "add.sh", "add() { echo $(( $1 - $2 )); }\n");
    write_text(task.repo / "test.sh",
               ". ./add.sh\n[ \"$(add 2 3)\" = 5 ] && echo PASS || { echo FAIL; exit 1; }\n");
    write_text(task.repo / "AGENTS.md", "Run tests with: bash test.sh\n");
    task.set_script({
        turn("The bug must be in add.sh.", "", {invoke("read", {{"path", "add.sh"}})}),
        turn("It subtracts; fix it.", "",
             {invoke("edit",
                     {{"path", "add.sh"}, {"old_text", "$1 - $2"}, {"new_text", "$1 + $2"}})}),
        turn("Now run the tests.", "", {invoke("shell", {{"command", "bash test.sh"}})}),
        turn("The tests pass.", "Fixed `add` in add.sh: it subtracted instead of adding."),
    });
    const auto r = run_process(task.args(
        {"--output", "stream-json", "--permission", "auto", "-p", "The test fails; fix the bug."}));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_text(task.repo / "add.sh") == "add() { echo $(( $1 + $2 )); }\n");
    const auto events = parse_events(r.out);
    REQUIRE(events.size() > 10);
    CHECK(events.front().at("type") == "session.started");
    CHECK(events.front().at("permission") == "auto");
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 3);
    CHECK(results[0].at("status") == "ok");
    CHECK(contains(results[0].at("output").get<std::string>(), "$1 - $2"));
    CHECK(results[1].at("status") == "ok");
    CHECK(results[2].at("status") == "ok");
    CHECK(contains(results[2].at("output").get<std::string>(), "PASS"));
    const auto calls = of_type(events, "tool.call");
    REQUIRE(calls.size() == 3);
    CHECK(calls[0].at("call_id") == "call_1_0");
    CHECK(calls[1].at("arguments").at("new_text") == "$1 + $2");
    CHECK(contains(calls[2].at("raw").get<std::string>(), "bash test.sh"));
    std::string reasoning;
    for (const auto& d : of_type(events, "reasoning.delta")) {
        reasoning += d.at("text").get<std::string>();
    }
    CHECK(reasoning ==
          "The bug must be in add.sh.It subtracts; fix it.Now run the tests.The tests pass.");
    const json done = events.back();
    CHECK(done.at("exit_reason") == "done");
    CHECK(done.at("exit_code") == 0);
    CHECK(done.at("steps") == 4);
    CHECK(done.at("final_text") == "Fixed `add` in add.sh: it subtracted instead of adding.");
    check_accounting(events);
    const auto started = of_type(events, "turn.started");
    REQUIRE(started.size() == 4);
    CHECK(of_type(events, "usage").size() == 4);

    // The journal holds exactly the printed events, in order, plus the agent's state records
    // (one start, one per turn, one append per turn with tool calls).
    auto store = osprey::memory::Store::open(task.data);
    const auto all =
        osprey::memory::read_journal(store.db(), events.front().at("session").get<std::string>());
    std::vector<osprey::memory::JournalEvent> journal;
    std::map<std::string, int> state_records;
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].seq == static_cast<std::int64_t>(i));
        if (all[i].type.rfind("agent.", 0) == 0) {
            ++state_records[all[i].type];
        } else {
            journal.push_back(all[i]);
        }
    }
    CHECK(state_records ==
          std::map<std::string, int>{
              {"agent.task", 1}, {"agent.start", 1}, {"agent.turn", 4}, {"agent.append", 3}});
    REQUIRE(journal.size() == events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        CHECK(json::parse(journal[i].payload) == events[i]);
    }
    // Each executed call was logged before it ran and finished with its status.
    osprey::memory::ToolLog tool_log(store.db());
    for (const auto& call : calls) {
        const auto run = tool_log.find(call.at("session").get<std::string>(),
                                       call.at("seq").get<std::int64_t>());
        REQUIRE(run.has_value());
        CHECK(run->tool == call.at("name").get<std::string>());
        CHECK(run->status == osprey::memory::ToolStatus::ok);
    }
    osprey::memory::Sessions sessions(store.db());
    CHECK(sessions.find(events.front().at("session").get<std::string>())->status ==
          osprey::memory::SessionStatus::completed);
}

TEST_CASE("osprey run: the system prompt carries AGENTS.md, else CLAUDE.md") {
    Task task;
    write_text(task.repo / "CLAUDE.md", "Use tabs.\n");
    task.set_script({turn("", "ok")});
    auto r = run_process(task.args({"--output", "json", "hi"}));
    REQUIRE(r.exit_code == 0);
    const json done = json::parse(r.out);
    CHECK(done.at("type") == "session.completed");
    CHECK(done.at("final_text") == "ok");
    const std::int64_t with_claude = done.at("prompt_tokens").get<std::int64_t>();
    write_text(task.repo / "AGENTS.md", "Use four spaces, never tabs, and keep lines short.\n");
    r = run_process(task.args({"--output", "json", "hi"}));
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out).at("prompt_tokens").get<std::int64_t>() > with_claude);
}

TEST_CASE("osprey run: notes saved with the memory tool reach later sessions' system prompt") {
    Task task;
    task.set_script({
        turn("", "", {invoke("memory", {{"action", "save"}, {"text", "Build with make -j2."}})}),
        turn("", "",
             {invoke("memory", {{"action", "update"}, {"id", "99", false}, {"text", "x"}})}),
        turn("", "Saved."),
    });
    auto r = run_process(task.args({"--permission", "auto", "--output", "stream-json", "note"}));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto results = of_type(parse_events(r.out), "tool.result");
    REQUIRE(results.size() == 2);
    CHECK(results[0].at("status") == "ok");
    CHECK(results[1].at("status") == "error");
    CHECK(results[1].at("output").get<std::string>().find("there is no note 99") !=
          std::string::npos);

    task.set_script({turn("", "ok")});
    r = run_process(task.args({"--output", "stream-json", "hi"}));
    REQUIRE(r.exit_code == 0);
    const std::string second = parse_events(r.out).front().at("session");
    auto store = osprey::memory::Store::open(task.data);
    std::string system;
    for (const auto& ev : osprey::memory::read_journal(store.db(), second)) {
        if (ev.type == "agent.start") {
            system = json::parse(ev.payload).at("messages").at(0).at("content");
        }
    }
    CHECK(system.find("Notes saved in earlier sessions") != std::string::npos);
    CHECK(system.find("- Build with make -j2.") != std::string::npos);

    // The user sees and manages the same notes.
    const auto list = run_process({OSPREY_BINARY, "notes", "list", "--data-dir", task.data.string(),
                                   "--cwd", task.repo.string()});
    INFO(list.err);
    CHECK(list.out.find("Build with make -j2.") != std::string::npos);
}

TEST_CASE("osprey run: the calls of one turn run concurrently, results in call order") {
    Task task;
    write_text(task.repo / "a.txt", "alpha\n");
    write_text(task.repo / "b.txt", "beta\n");
    const std::string timed = "date +%s%N; sleep 1; date +%s%N";
    task.set_script({
        turn("Both at once.", "",
             {invoke("shell", {{"command", timed + "; echo first"}}),
              invoke("shell", {{"command", timed + "; echo second"}}),
              invoke("read", {{"path", "b.txt"}}), invoke("read", {{"path", "a.txt"}})}),
        turn("", "done"),
    });
    const auto r =
        run_process(task.args({"--output", "stream-json", "--permission", "auto", "go"}));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto events = parse_events(r.out);
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(results[i].at("call_id") == "call_1_" + std::to_string(i));
        CHECK(results[i].at("status") == "ok");
    }
    CHECK(contains(results[0].at("output").get<std::string>(), "first"));
    CHECK(contains(results[1].at("output").get<std::string>(), "second"));
    CHECK(contains(results[2].at("output").get<std::string>(), "beta"));
    CHECK(contains(results[3].at("output").get<std::string>(), "alpha"));
    // The two sleeps overlapped: each started before the other ended.
    const auto times = [](const json& result) {
        std::istringstream in(result.at("data").at("stdout").get<std::string>());
        long long start = 0;
        long long end = 0;
        in >> start >> end;
        return std::make_pair(start, end);
    };
    const auto [s0, e0] = times(results[0]);
    const auto [s1, e1] = times(results[1]);
    CHECK(s0 < e1);
    CHECK(s1 < e0);
    check_accounting(events);
}

TEST_CASE("osprey run: every error goes back to the model and the loop continues") {
    Task task;
    task.set_script({
        turn("", "", {invoke("no_such_tool", {{"path", "x"}})}),
        turn("", "", {invoke("read", {{"path", "README.md"}, {"start_line", "0", false}})}),
        turn("", "", {invoke("read", {{"path", "42", false}})}),
        turn("", "", {invoke("read", {{"path", "README.md"}, {"end_line", "{oops", false}})}),
        turn("", "", {invoke("write", {{"path", "new.txt"}, {"content", "x"}})}),
        turn("", "", {invoke("read", {{"path", "missing.txt"}})}),
        "bad</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke nme=\"read\">\n</｜DSML｜invoke>\n"
        "</｜DSML｜tool_calls><｜end▁of▁sentence｜>",
        turn("", "recovered"),
    });
    const auto r = run_process(task.args({"--output", "stream-json", "go"}));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto events = parse_events(r.out);
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 5);
    CHECK(results[0].at("status") == "error");
    CHECK(contains(results[0].at("output").get<std::string>(), "unknown tool 'no_such_tool'"));
    CHECK(contains(results[0].at("output").get<std::string>(), "read"));
    CHECK(results[1].at("status") == "error");
    CHECK(contains(results[1].at("output").get<std::string>(), "start_line"));
    CHECK(results[2].at("status") == "error");
    CHECK(contains(results[2].at("output").get<std::string>(), "invalid arguments for read"));
    CHECK(contains(results[2].at("output").get<std::string>(), "path"));
    CHECK(results[3].at("status") == "denied");
    CHECK(contains(results[3].at("output").get<std::string>(), "denied"));
    CHECK_FALSE(std::filesystem::exists(task.repo / "new.txt"));
    CHECK(results[4].at("status") == "error");
    CHECK(contains(results[4].at("output").get<std::string>(), "missing.txt"));
    std::vector<std::string> codes;
    for (const auto& e : of_type(events, "error")) {
        CHECK(e.at("recoverable") == true);
        codes.push_back(e.at("code"));
    }
    CHECK(codes == std::vector<std::string>{"unknown_tool", "invalid_arguments",
                                            "invalid_arguments", "parse_error", "parse_error"});
    // A malformed JSON value and a malformed invoke tag: nothing runs, the model is told why.
    const auto errors = of_type(events, "error");
    REQUIRE(errors.size() == 5);
    CHECK(contains(errors[3].at("message").get<std::string>(), "not valid JSON"));
    CHECK(contains(errors[4].at("message").get<std::string>(), "<｜DSML｜invoke"));
    CHECK(events.back().at("final_text") == "recovered");
    CHECK(events.back().at("steps") == 8);
    check_accounting(events);
}

TEST_CASE("osprey run: --allow and --deny rules decide per call") {
    Task task;
    task.set_script({
        turn("", "",
             {invoke("shell", {{"command", "echo hi > made.txt"}}),
              invoke("shell", {{"command", "git status"}})}),
        turn("", "done"),
    });
    const auto r = run_process(task.args(
        {"--output", "stream-json", "--allow", "shell(echo *)", "--deny", "shell(git *)", "go"}));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto results = of_type(parse_events(r.out), "tool.result");
    REQUIRE(results.size() == 2);
    CHECK(results[0].at("status") == "ok");
    CHECK(read_text(task.repo / "made.txt") == "hi\n");
    CHECK(results[1].at("status") == "denied");
}

TEST_CASE("osprey run: budgets end the task with exit 3") {
    Task task;
    task.set_script({turn("", "", {invoke("read", {{"path", "README.md"}})}),
                     turn("", "", {invoke("list", {})}), turn("", "done")});
    SECTION("--max-steps") {
        const auto r =
            run_process(task.args({"--output", "stream-json", "--max-steps", "2", "go"}));
        REQUIRE(r.exit_code == 3);
        const auto events = parse_events(r.out);
        CHECK(events.back().at("exit_reason") == "budget");
        CHECK(events.back().at("steps") == 2);
        CHECK(contains(of_type(events, "error").back().at("message").get<std::string>(),
                       "--max-steps"));
    }
    SECTION("--max-tokens") {
        const auto r = run_process(task.args({"--output", "json", "--max-tokens", "5", "go"}));
        REQUIRE(r.exit_code == 3);
        const json done = json::parse(r.out);
        CHECK(done.at("exit_reason") == "budget");
        CHECK(done.at("decoded_tokens") == 5);
    }
    SECTION("--timeout during a tool") {
        task.set_script(
            {turn("", "", {invoke("shell", {{"command", "sleep 30"}})}), turn("", "x")});
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = run_process(
            task.args({"--output", "json", "--permission", "auto", "--timeout", "1s", "go"}));
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
        REQUIRE(r.exit_code == 3);
        CHECK(json::parse(r.out).at("exit_reason") == "budget");
    }
}

TEST_CASE("osprey run: the loop guard warns at the third identical call and stops at the fourth") {
    Task task;
    const std::string same = turn("", "", {invoke("read", {{"path", "README.md"}})});
    task.set_script({same, same, same, same, turn("", "never")});
    const auto r = run_process(task.args({"--output", "stream-json", "go"}));
    REQUIRE(r.exit_code == 3);
    const auto events = parse_events(r.out);
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 4);
    const std::string warning = osprey::agent::LoopGuard::warning();
    CHECK_FALSE(contains(results[1].at("output").get<std::string>(), warning));
    CHECK(contains(results[2].at("output").get<std::string>(), warning));
    CHECK(events.back().at("exit_reason") == "loop");
    CHECK(events.back().at("exit_code") == 3);
}

TEST_CASE("osprey run: SIGTERM during a tool ends cleanly with 143") {
    Task task;
    task.set_script({turn("", "", {invoke("shell", {{"command", "sleep 60"}})}), turn("", "x")});
    Running run(task.args({"--output", "stream-json", "--permission", "auto", "go"}));
    REQUIRE(run.wait_for("tool.call", 60));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    run.signal(SIGTERM);
    const int code = run.finish();
    INFO(run.out());
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(15));
    REQUIRE(code == 143);
    const auto events = parse_events(run.out());
    CHECK(of_type(events, "tool.result").back().at("status") == "interrupted");
    CHECK(events.back().at("exit_reason") == "interrupted");
    CHECK(events.back().at("exit_code") == 143);
}

TEST_CASE("osprey run: an interrupted tool gets SIGTERM first, so its cleanup runs") {
    Task task;
    task.set_script({turn("", "",
                          {invoke("shell", {{"command",
                                             "trap 'echo cleaned > cleanup.txt; exit 1' "
                                             "TERM; echo started; sleep 60 & wait $!"}})}),
                     turn("", "x")});
    Running run(task.args({"--output", "stream-json", "--permission", "auto", "go"}));
    REQUIRE(run.wait_for("tool.call", 60));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    run.signal(SIGINT);
    const int code = run.finish();
    INFO(run.out());
    REQUIRE(code == 130);
    CHECK(read_text(task.repo / "cleanup.txt") == "cleaned\n");
    const auto events = parse_events(run.out());
    CHECK(of_type(events, "tool.result").back().at("status") == "interrupted");
}

TEST_CASE("osprey run: SIGINT during generation ends with 130") {
    Task task;
    std::string long_reasoning;
    for (int i = 0; i < 300; ++i) {
        long_reasoning += "step " + std::to_string(i) + ", ";
    }
    task.set_script({turn(long_reasoning, "never finished")});
    Running run(task.args({"--output", "stream-json", "--token-delay", "20", "go"}));
    REQUIRE(run.wait_for("reasoning.delta", 60));
    run.signal(SIGINT);
    const int code = run.finish();
    INFO(run.out());
    REQUIRE(code == 130);
    const auto events = parse_events(run.out());
    CHECK(of_type(events, "turn.completed").back().at("finish_reason") == "cancelled");
    CHECK(events.back().at("exit_reason") == "interrupted");
    check_accounting(events);
}

TEST_CASE("osprey run: prompt from stdin, text output") {
    Task task;
    task.set_script({turn("thinking", "Hello there.")});
    std::string cmd = "echo 'say hello' |";
    for (const auto& a : task.args({})) {
        cmd += " '" + a + "'";
    }
    const auto r = run_process({"/bin/bash", "-c", cmd});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "Hello there.\n");
}

TEST_CASE("osprey run: bad usage and input exit 2, a failed task exits 1") {
    Task task;
    task.set_script({turn("", "", {invoke("read", {{"path", "README.md"}})})});
    CHECK(run_process(task.args({})).exit_code == 2);  // no prompt (stdin is /dev/null)
    CHECK(run_process(task.args({"--output", "yaml", "x"})).exit_code == 2);
    CHECK(run_process(task.args({"--mode", "fast", "x"})).exit_code == 2);
    CHECK(run_process(task.args({"--permission", "root", "x"})).exit_code == 2);
    CHECK(run_process(task.args({"--max-steps", "0", "x"})).exit_code == 2);
    write_text(task.script, "{\"not\": \"an array\"}");
    auto r = run_process(task.args({"x"}));
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "JSON array of strings"));
    // The script runs out after one turn: the task fails with a model error.
    task.set_script({turn("", "", {invoke("read", {{"path", "README.md"}})})});
    r = run_process(task.args({"--output", "stream-json", "x"}));
    CHECK(r.exit_code == 1);
    const auto events = parse_events(r.out);
    CHECK(events.back().at("exit_reason") == "failed");
    CHECK(of_type(events, "error").back().at("code") == "model_error");
}

TEST_CASE("osprey run: compaction near --context-limit restarts from a summary") {
    Task task;
    std::string big;
    for (int i = 0; i < 400; ++i) {
        big += "line " + std::to_string(i) + " of a long file\n";
    }
    write_text(task.repo / "big.txt", big);
    task.set_script({
        turn("Read it.", "", {invoke("read", {{"path", "big.txt"}})}),
        turn("", "Summary: big.txt has 400 numbered lines; nothing is left to check."),
        turn("From the summary.", "It has 400 lines."),
    });
    const auto r = run_process(
        task.args({"--output", "stream-json", "--context-limit", "6000", "How long is big.txt?"}));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto events = parse_events(r.out);
    const auto compactions = of_type(events, "compaction");
    REQUIRE(compactions.size() == 1);
    const json& c = compactions[0];
    CHECK(c.at("kept_messages") == 0);  // the one tool result is bigger than a quarter
    // The old session is kept: a copy of the journal up to the compaction, a child of this one.
    const std::string session = events.front().at("session");
    const std::string old_id = c.at("old_session");
    CHECK(old_id != session);
    {
        auto store = osprey::memory::Store::open(task.data);
        osprey::memory::Sessions sessions(store.db());
        const auto old = sessions.find(old_id);
        REQUIRE(old.has_value());
        CHECK(old->parent_id == session);
        const auto copied = osprey::memory::read_journal(store.db(), old_id);
        std::int64_t streamed = 0;  // the copy also holds the agent's state records
        for (const auto& e : copied) {
            streamed += e.type.rfind("agent.", 0) == 0 ? 0 : 1;
        }
        CHECK(streamed == c.at("seq").get<std::int64_t>());
        for (const auto& e : copied) {
            if (e.type == "session.started") {
                CHECK(json::parse(e.payload).at("session") == old_id);
            }
        }
    }
    CHECK(c.at("after_tokens").get<std::int64_t>() < c.at("before_tokens").get<std::int64_t>());
    const auto usage = of_type(events, "usage");
    REQUIRE(usage.size() == 3);
    // The step after compaction starts a new session: nothing reused, the summary prefilled.
    CHECK(usage[2].at("reused_tokens") == 0);
    CHECK(usage[2].at("prompt_tokens") == c.at("after_tokens"));
    CHECK(events.back().at("final_text") == "It has 400 lines.");
    CHECK(events.back().at("context_tokens") ==
          usage[2].at("prompt_tokens").get<std::int64_t>() +
              usage[2].at("decoded_tokens").get<std::int64_t>());
    // Without the limit the same script never compacts: its second turn is the answer.
    const auto plain = run_process(task.args({"--output", "stream-json", "How long is big.txt?"}));
    CHECK(plain.exit_code == 0);
    const auto plain_events = parse_events(plain.out);
    CHECK(of_type(plain_events, "compaction").empty());
    CHECK(plain_events.back().at("steps") == 2);
}

TEST_CASE("osprey run: compaction carries the most recent turns over verbatim") {
    Task task;
    std::string big;
    for (int i = 0; i < 400; ++i) {
        big += "line " + std::to_string(i) + " of a long file\n";
    }
    write_text(task.repo / "big.txt", big);
    write_text(task.repo / "small.txt", "the answer is 42\n");
    task.set_script({
        turn("", "", {invoke("read", {{"path", "big.txt"}})}),
        turn("", "", {invoke("read", {{"path", "small.txt"}})}),
        turn("", "Summary: big.txt has 400 lines; small.txt was read last."),
        turn("", "The answer is 42."),
    });
    // Without a limit: learn the size the context reaches after each tool result.
    const auto plain = run_process(task.args({"--output", "stream-json", "Find the answer."}));
    REQUIRE(plain.exit_code == 0);
    const auto plain_usage = of_type(parse_events(plain.out), "usage");
    REQUIRE(plain_usage.size() == 3);
    const std::int64_t after_first = plain_usage[0].at("context_tokens").get<std::int64_t>() +
                                     plain_usage[1].at("prompt_tokens").get<std::int64_t>();
    const std::int64_t after_second = plain_usage[1].at("context_tokens").get<std::int64_t>() +
                                      plain_usage[2].at("prompt_tokens").get<std::int64_t>();
    // A limit whose 80% mark falls between the two: compaction after the second result.
    const std::int64_t limit = after_second * 5 / 4;
    REQUIRE(after_first < limit * 4 / 5);
    const auto r = run_process(task.args(
        {"--output", "stream-json", "--context-limit", std::to_string(limit), "Find the answer."}));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto events = parse_events(r.out);
    const auto compactions = of_type(events, "compaction");
    REQUIRE(compactions.size() == 1);
    // The small read (its call and result) fits in a quarter of the limit; the big one does not.
    CHECK(compactions[0].at("kept_messages") == 2);
    const auto usage = of_type(events, "usage");
    REQUIRE(usage.size() == 4);
    CHECK(usage[3].at("reused_tokens") == 0);
    CHECK(usage[3].at("prompt_tokens") == compactions[0].at("after_tokens"));
    CHECK(compactions[0].at("after_tokens").get<std::int64_t>() <
          compactions[0].at("before_tokens").get<std::int64_t>());
    CHECK(events.back().at("final_text") == "The answer is 42.");
}
