// The interactive terminal driven through a pseudo-terminal exactly as a person would: `osprey`
// with no command on a tty, keys sent to it, the screen read back. Scripted model, temporary git
// repository.
#include <poll.h>
#include <pty.h>
#include <termios.h>

#include <chrono>
#include <regex>
#include <thread>

#include "memory/journal.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "tests/agent/run_support.hpp"

using nlohmann::json;
using namespace osprey::test;

namespace {

// `osprey` on the slave side of a pty; the test holds the master.
class Terminal {
public:
    explicit Terminal(const std::vector<std::string>& argv) {
        winsize size{};
        size.ws_row = 40;
        size.ws_col = 120;
        pid_ = forkpty(&master_, nullptr, nullptr, &size);
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            setenv("TERM", "xterm", 1);
            unsetenv("NO_COLOR");
            std::vector<char*> args;
            for (const auto& a : argv) {
                args.push_back(const_cast<char*>(a.c_str()));
            }
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~Terminal() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(master_);
    }
    void send(const std::string& keys) {
        REQUIRE(write(master_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size()));
    }
    // Reads until `text` shows up after the mark (the screen without escape sequences); false
    // after `seconds`. The mark moves past the match.
    bool wait_for(const std::string& text, int seconds = 30) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (true) {
            const std::string s = screen();
            const auto at = s.find(text, mark_);
            if (at != std::string::npos) {
                mark_ = at + text.size();
                return true;
            }
            if (std::chrono::steady_clock::now() >= end || !pump(100)) {
                return screen().find(text, mark_) != std::string::npos;
            }
        }
    }
    // Reads until the program exits; its exit code.
    int finish(int seconds = 30) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (std::chrono::steady_clock::now() < end && pump(100)) {
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    // Everything shown so far, without ANSI escape sequences and carriage returns.
    std::string screen() const {
        static const std::regex escapes("\x1b\\[[0-9;?]*[A-Za-z]|\r|\x01");
        return std::regex_replace(raw_, escapes, "");
    }
    const std::string& raw() const { return raw_; }

private:
    // false at end of output (the program exited).
    bool pump(int timeout_ms) {
        pollfd p{master_, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) {
            return true;
        }
        char buf[4096];
        const ssize_t n = read(master_, buf, sizeof buf);
        if (n <= 0) {
            return false;  // EIO: the slave side is closed
        }
        raw_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    pid_t pid_ = -1;
    int master_ = -1;
    std::string raw_;
    std::size_t mark_ = 0;
};

// Waits for `text` on the screen; on failure the report shows the whole screen.
#define REQUIRE_SCREEN(term, text)                 \
    do {                                           \
        const bool shown_ = (term).wait_for(text); \
        INFO("screen:\n" << (term).screen());      \
        REQUIRE(shown_);                           \
    } while (false)

std::vector<std::string> interactive_args(const Task& task, std::vector<std::string> extra) {
    std::vector<std::string> a = {OSPREY_BINARY,
                                  "--model",
                                  "scripted:" + task.script.string(),
                                  "--tokenizer",
                                  OSPREY_TEST_TOKENIZER,
                                  "--cwd",
                                  task.repo.string(),
                                  "--data-dir",
                                  task.data.string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

TEST_CASE("osprey on a terminal: prompts, slash commands, an ask, Ctrl-C, one session") {
    Task task;
    std::string long_reasoning;
    for (int i = 0; i < 400; ++i) {
        long_reasoning += "step " + std::to_string(i) + ", ";
    }
    task.set_script({
        turn("The user greets me.", "Hello from the scripted model."),
        turn("I will write the file.", "",
             {invoke("write", {{"path", "notes.txt"}, {"content", "first line\nsecond line\n"}})}),
        turn("", "Wrote notes.txt."),
        turn(long_reasoning, "never finished"),
        turn("Still the same session.", "Yes, I am still here."),
    });
    Terminal term(interactive_args(task, {"--token-delay", "5"}));
    REQUIRE_SCREEN(term, "/help for commands");

    // A first prompt: the answer streams, reasoning is collapsed to one line, usage follows.
    term.send("say hello\r");
    REQUIRE_SCREEN(term, "thought for");
    REQUIRE_SCREEN(term, "Hello from the scripted model.");
    REQUIRE_SCREEN(term, "usage:");
    REQUIRE_SCREEN(term, "context");

    // A slash command.
    term.send("/help\r");
    REQUIRE_SCREEN(term, "/rewind");
    term.send("/resume last\r");
    REQUIRE_SCREEN(term, "/resume: that is this session");

    // A write needs approval (ask is the default on a terminal): the call is shown, then the
    // question; "y" runs it and the diff is shown.
    term.send("write notes.txt please\r");
    REQUIRE_SCREEN(term, "● write notes.txt");
    REQUIRE_SCREEN(term, "? allow write notes.txt");
    REQUIRE_SCREEN(term, "[a]lways:");
    term.send("y\r");
    REQUIRE_SCREEN(term, "ok");
    REQUIRE_SCREEN(term, "+first line");
    REQUIRE_SCREEN(term, "Wrote notes.txt.");
    CHECK(read_text(task.repo / "notes.txt") == "first line\nsecond line\n");

    // Ctrl-C during a slow generation stops it and returns to the prompt.
    term.send("count slowly\r");
    REQUIRE_SCREEN(term, "thinking… ");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    term.send("\x03");
    REQUIRE_SCREEN(term, "interrupted");
    REQUIRE_SCREEN(term, "usage:");

    // The next prompt continues the same session.
    term.send("are you still there?\r");
    REQUIRE_SCREEN(term, "Yes, I am still here.");
    REQUIRE_SCREEN(term, "usage:");
    term.send("/usage\r");
    REQUIRE_SCREEN(term, "prefilled + generated");
    term.send("/quit\r");
    CHECK(term.finish() == 0);

    // The journal: one session, every turn appended to it (each step reuses the whole context
    // of the step before: nothing prefilled twice), the interrupted turn cancelled.
    auto store = osprey::memory::Store::open(task.data);
    osprey::memory::Sessions sessions(store.db());
    const auto list = sessions.list();
    REQUIRE(list.size() == 1);
    CHECK(list[0].title == "say hello");
    std::vector<json> events;
    for (const auto& e : osprey::memory::read_journal(store.db(), list[0].id)) {
        events.push_back(json::parse(e.payload));
    }
    const auto usage = of_type(events, "usage");
    REQUIRE(usage.size() == 5);
    std::int64_t context = 0;
    for (const auto& u : usage) {
        CHECK(u.at("reused_tokens").get<std::int64_t>() == context);
        context = u.at("context_tokens").get<std::int64_t>();
    }
    const auto finished = of_type(events, "turn.completed");
    REQUIRE(finished.size() == 5);
    CHECK(finished[3].at("finish_reason") == "cancelled");
    CHECK(finished[4].at("finish_reason") == "end_turn");
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 1);
    CHECK(results[0].at("status") == "ok");
    CHECK(events.back().at("type") == "session.completed");
    CHECK(events.back().at("exit_code") == 0);
    CHECK(events.back().at("final_text") == "Yes, I am still here.");
    // History is kept in the data folder (libedit's format: spaces as \040).
    const std::string history = read_text(task.data / "history");
    CHECK(history.find("say\\040hello") != std::string::npos);
    CHECK(history.find("are\\040you\\040still\\040there?") != std::string::npos);
}

TEST_CASE("osprey on a terminal: n declines, always, Ctrl-C in a tool, /compact, Ctrl-C twice") {
    Task task;
    task.set_script({
        turn("", "", {invoke("shell", {{"command", "touch made.txt"}})}),
        turn("", "The user declined."),
        turn("", "", {invoke("shell", {{"command", "echo waiting; sleep 30"}})}),
        turn("", "Back after the stop."),
        turn("", "Summary: a file was declined and a sleep was stopped."),
        turn("From the summary.", "Nothing is left to do."),
    });
    Terminal term(interactive_args(task, {}));
    REQUIRE_SCREEN(term, "/help for commands");
    term.send("make a file\r");
    REQUIRE_SCREEN(term, "? allow shell touch made.txt");
    term.send("n\r");
    REQUIRE_SCREEN(term, "denied");
    REQUIRE_SCREEN(term, "The user declined.");
    CHECK_FALSE(std::filesystem::exists(task.repo / "made.txt"));

    // "a" allows the command; Ctrl-C stops it (SIGTERM to its process group) and the turn.
    term.send("wait a while\r");
    REQUIRE_SCREEN(term, "? allow shell echo waiting; sleep 30");
    term.send("a\r");
    // The answer's newline is echoed before the line editor gives the terminal back (Ctrl-C is a
    // key while it edits, a signal after).
    REQUIRE_SCREEN(term, "[a]lways: a\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto t0 = std::chrono::steady_clock::now();
    term.send("\x03");
    REQUIRE_SCREEN(term, "interrupted");
    REQUIRE_SCREEN(term, "usage:");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    term.send("go on\r");
    REQUIRE_SCREEN(term, "Back after the stop.");

    // /compact: a summary, then a fresh context that the next message continues.
    term.send("/compact\r");
    REQUIRE_SCREEN(term, "context compacted:");
    term.send("what is left?\r");
    REQUIRE_SCREEN(term, "Nothing is left to do.");
    term.send("/nothink\r");
    REQUIRE_SCREEN(term, "mode: chat");
    term.send("/bogus\r");
    REQUIRE_SCREEN(term, "unknown command /bogus");
    REQUIRE_SCREEN(term, "\n> ");  // at the prompt, Ctrl-C is a key
    term.send("\x03");
    REQUIRE_SCREEN(term, "Ctrl-C again");
    REQUIRE_SCREEN(term, "\n> ");
    term.send("\x03");
    CHECK(term.finish() == 0);

    auto store = osprey::memory::Store::open(task.data);
    osprey::memory::Sessions sessions(store.db());
    const auto list = sessions.list();
    REQUIRE(list.size() == 2);  // the session and the copy kept at compaction
    std::string id = list[0].parent_id ? *list[0].parent_id : list[0].id;
    std::vector<json> events;
    for (const auto& e : osprey::memory::read_journal(store.db(), id)) {
        events.push_back(json::parse(e.payload));
    }
    const auto results = of_type(events, "tool.result");
    REQUIRE(results.size() == 2);
    CHECK(results[0].at("status") == "denied");
    CHECK(results[1].at("status") == "interrupted");
    const auto compactions = of_type(events, "compaction");
    REQUIRE(compactions.size() == 1);
    CHECK(compactions[0].at("old_session") != id);
    // After the compaction the next message starts a fresh session: nothing reused, the
    // compacted context and the message prefilled.
    const auto usage = of_type(events, "usage");
    REQUIRE(usage.size() == 6);
    CHECK(usage[5].at("reused_tokens") == 0);
    CHECK(usage[5].at("prompt_tokens").get<std::int64_t>() >
          compactions[0].at("after_tokens").get<std::int64_t>());
}

TEST_CASE("osprey without a terminal keeps printing the usage") {
    const auto r = run_process({OSPREY_BINARY});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("Usage: osprey <command>") != std::string::npos);
    const auto i = run_process({OSPREY_BINARY, "--model", "scripted:x.json"});
    CHECK(i.exit_code == 2);
    CHECK(i.err.find("needs a terminal") != std::string::npos);
}
