// Issue 8's crash test: a scripted-backend task is killed with SIGKILL at 50 random points
// (during generation, during tool calls, between them); after each, `osprey run --resume` must
// complete the task with a journal that has no gap or duplicate, no tool call run twice, no
// orphaned child still running, and the same final workspace as an uninterrupted run.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "memory/database.hpp"
#include "memory/journal.hpp"
#include "memory/store.hpp"
#include "tests/agent/run_support.hpp"

using namespace osprey::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A marker no other process on the machine runs: the slow tool's sleep.
constexpr const char* kSleepMarker = "0.417";

std::vector<std::string> crash_script() {
    const std::string think =
        "Working through the task one small step at a time, checking each result before the "
        "next one";
    return {
        turn(think + ": start with a.", "",
             {invoke("write", {{"path", "a.txt"}, {"content", "alpha\n"}})}),
        turn(think + ": now two edits at once.", "",
             {invoke("edit", {{"path", "a.txt"}, {"old_text", "alpha"}, {"new_text", "beta"}}),
              invoke("write", {{"path", "b.txt"}, {"content", "two\n"}})}),
        turn(think + ": merge them, slowly.", "",
             {invoke("shell", {{"command", std::string("sleep ") + kSleepMarker +
                                               " && sort a.txt b.txt > c.txt"}})}),
        turn(think + ": check the merge.", "", {invoke("read", {{"path", "c.txt"}})}),
        turn(think + ": record the result.", "",
             {invoke("write", {{"path", "d.txt"}, {"content", "merged: beta two\n"}})}),
        turn(think + ".", "Done: c.txt holds the merge and d.txt the summary."),
    };
}

std::string names(const std::map<std::string, std::string>& files) {
    std::string s;
    for (const auto& [name, content] : files) {
        s += name + " ";
    }
    return s;
}

std::map<std::string, std::string> files_of(const fs::path& root) {
    std::map<std::string, std::string> files;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        if (it->path().filename() == ".git") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) {
            files[fs::relative(it->path(), root).string()] = read_text(it->path());
        }
    }
    return files;
}

// Starts argv with stdout and stderr to files; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int in = open("/dev/null", O_RDONLY);
        dup2(o, 1);
        dup2(e, 2);
        dup2(in, 0);
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    return pid;
}

// Processes whose command line holds the slow tool's marker.
int marker_processes() {
    int n = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::string cmdline = read_text(entry.path() / "cmdline");
        for (char& c : cmdline) {
            c = c == '\0' ? ' ' : c;
        }
        if (cmdline.rfind("sleep ", 0) == 0 && cmdline.find(kSleepMarker) != std::string::npos) {
            ++n;
        }
    }
    return n;
}

struct Run {
    Task task;
    std::vector<std::string> args(std::vector<std::string> extra) const {
        std::vector<std::string> a =
            task.args({"--permission", "auto", "--token-delay", "2", "--output", "stream-json"});
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
};

}  // namespace

TEST_CASE("crash: kill -9 at 50 random points, --resume completes the task exactly once",
          "[crash]") {
    // The reference: one uninterrupted run.
    Run reference;
    reference.task.set_script(crash_script());
    const auto t0 = std::chrono::steady_clock::now();
    const ProcessResult ok = run_process(reference.args({"merge the two files"}));
    const auto total = std::chrono::steady_clock::now() - t0;
    INFO(ok.err);
    REQUIRE(ok.exit_code == 0);
    const auto expected = files_of(reference.task.repo);
    REQUIRE(expected.count("c.txt") == 1);
    CHECK(expected.at("c.txt") == "beta\ntwo\n");
    const auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(total).count();

    const unsigned seed = std::random_device{}();
    INFO("seed " << seed << ", uninterrupted run " << total_ms << " ms");
    std::mt19937 rng(seed);
    std::uniform_int_distribution<long> when(0, total_ms);
    std::map<std::string, int> kinds;  // where the kills landed, by the last journaled event
    for (int round = 0; round < 50; ++round) {
        Run run;
        run.task.set_script(crash_script());
        const fs::path out = run.task.tmp.path() / "out.jsonl";
        const fs::path err = run.task.tmp.path() / "err.txt";
        const long delay = when(rng);
        INFO("round " << round << ": kill after " << delay << " ms");
        const pid_t pid = spawn(run.args({"merge the two files"}), out, err);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);

        // No child of the killed process keeps running (the slow tool's sleep dies with it).
        int orphans = marker_processes();
        for (int i = 0; i < 100 && orphans > 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            orphans = marker_processes();
        }
        CHECK(orphans == 0);

        std::string session;
        std::string last_type = "nothing";
        if (fs::exists(run.task.data / "osprey.db")) {
            auto store = osprey::memory::Store::open(run.task.data);
            auto rows = store.db().prepare("SELECT id FROM sessions;");
            if (rows.step()) {
                session = rows.column_text(0);
                const auto journal = osprey::memory::read_journal(store.db(), session);
                bool task = false;
                for (const auto& ev : journal) {
                    task = task || ev.type == "agent.task";
                    if (ev.type.rfind("agent.", 0) != 0) {
                        last_type = ev.type;
                    }
                }
                if (!task) {
                    session.clear();  // killed between creating the session and its first record
                }
            }
        }
        if (session.empty()) {
            // Killed before the task was recorded: nothing to resume; a new run does the task.
            ++kinds["before the session"];
            const ProcessResult again = run_process(run.args({"merge the two files"}));
            REQUIRE(again.exit_code == 0);
            CHECK(files_of(run.task.repo) == expected);
            continue;
        }
        ++kinds[last_type == "tool.call" || last_type == "tool.result" ? "during tool calls"
                : last_type == "reasoning.delta" || last_type == "text.delta" ||
                        last_type == "turn.started"
                    ? "during generation"
                    : "between (" + last_type + ")"];

        const ProcessResult resumed = run_process(run.args({"--resume", session}));
        INFO(resumed.err);
        REQUIRE(resumed.exit_code == 0);
        std::vector<json> events;
        {
            std::istringstream lines(resumed.out);
            std::string line;
            while (std::getline(lines, line)) {
                events.push_back(json::parse(line));
            }
        }
        REQUIRE(!events.empty());
        CHECK(events.front().at("type") == "session.started");
        CHECK(events.front().at("resumed_from") == session);
        CHECK(events.back().at("type") == "session.completed");
        CHECK(events.back().at("exit_reason") == "done");
        CHECK(events.back().at("final_text") ==
              "Done: c.txt holds the merge and d.txt the summary.");
        INFO("files: " << names(files_of(run.task.repo)) << "; expected " << names(expected));
        CHECK(files_of(run.task.repo) == expected);

        // The journal: seq 0, 1, 2 ... without gap or duplicate, and the streamed events too;
        // every tool call answered exactly once and run at most once.
        auto store = osprey::memory::Store::open(run.task.data);
        const auto journal = osprey::memory::read_journal(store.db(), session);
        std::int64_t streamed = 0;
        std::map<std::string, int> results;
        std::set<std::int64_t> calls;
        for (std::size_t i = 0; i < journal.size(); ++i) {
            REQUIRE(journal[i].seq == static_cast<std::int64_t>(i));
            if (journal[i].type.rfind("agent.", 0) == 0) {
                continue;
            }
            const json ev = json::parse(journal[i].payload);
            CHECK(ev.at("seq").get<std::int64_t>() == streamed);
            ++streamed;
            if (journal[i].type == "tool.result") {
                ++results[ev.at("call_id").get<std::string>()];
            } else if (journal[i].type == "tool.call") {
                CHECK(calls.insert(ev.at("seq").get<std::int64_t>()).second);
            }
        }
        for (const auto& [id, n] : results) {
            INFO("call " << id);
            CHECK(n == 1);
        }
        auto twice = store.db().prepare(
            "SELECT call_seq, COUNT(*) FROM tool_executions WHERE session_id = ?1 "
            "GROUP BY call_seq HAVING COUNT(*) > 1;");
        twice.bind(1, session);
        CHECK_FALSE(twice.step());
    }
    std::string summary;
    for (const auto& [kind, n] : kinds) {
        summary += kind + ": " + std::to_string(n) + "; ";
    }
    WARN("kill points (seed " << seed << "): " << summary);
    CHECK(kinds["during generation"] > 0);
    CHECK(kinds["during tool calls"] > 0);
}
