// Denial explanations from the messages each layer produces.

#include <catch2/catch.hpp>

#include "sandbox/denials.hpp"

using namespace osprey::sandbox;

namespace {

DenialContext context() {
    DenialContext c;
    c.mode = Mode::workspace_write;
    c.workspace = "/w";
    c.cwd = "/w/src";
    c.writable = {"/w"};
    c.hidden = {"/home/u/.ssh", "/home/u/.netrc"};
    c.read_only = {"/w/.git"};
    return c;
}

RunResult with_stderr(const std::string& err) {
    RunResult r;
    r.reason = EndReason::exited;
    r.exit_code = 1;
    r.err = err;
    return r;
}

const Denial& only(const RunResult& r) {
    REQUIRE(r.denials.size() == 1);
    return r.denials.front();
}

}  // namespace

TEST_CASE("a read-only write names the path, the rule and the permission rule") {
    RunResult r = with_stderr("touch: cannot touch '/etc/x': Read-only file system\n");
    add_denials(r, context());
    const Denial& d = only(r);
    CHECK(d.kind == "fs-write");
    CHECK(d.what == "write to /etc/x");
    CHECK(d.why.find("only /w and the private /tmp are writable") != std::string::npos);
    CHECK(d.how_to_allow.find("--writable") != std::string::npos);
}

TEST_CASE("relative paths resolve against the working directory and .git is explained") {
    RunResult r = with_stderr("sh: 1: cannot create ../.git/hooks/x: Read-only file system\n");
    add_denials(r, context());
    const Denial& d = only(r);
    CHECK(d.what == "write to /w/.git/hooks/x");
    CHECK(d.why.find("/w/.git stays read-only") != std::string::npos);
}

TEST_CASE("a bare file name after 'cannot create' is a path in the working directory") {
    RunResult r = with_stderr(
        "sh: 1: cannot create x: Read-only file system\n"
        "touch: cannot touch 'a b': Read-only file system\n");
    add_denials(r, context());
    REQUIRE(r.denials.size() == 2);
    CHECK(r.denials[0].what == "write to /w/src/x");
    CHECK(r.denials[1].what == "write to /w/src/a b");
}

TEST_CASE("hidden secrets, blocked system calls and the network are told apart") {
    RunResult r = with_stderr(
        "cat: /home/u/.ssh/id_rsa: No such file or directory\n"
        "ls: cannot open directory '/home/u/.ssh': Permission denied\n"
        "ptrace: Operation not permitted\n"
        "mount: /mnt: permission denied.\n"
        "curl: (6) Could not resolve host: example.com\n"
        "cat: /w/missing.txt: No such file or directory\n");
    add_denials(r, context());
    std::vector<std::string> kinds;
    for (const auto& d : r.denials) {
        kinds.push_back(d.kind + ":" + d.what);
    }
    CHECK(kinds == std::vector<std::string>{"secret:access to /home/u/.ssh/id_rsa",
                                            "secret:access to /home/u/.ssh", "syscall:ptrace",
                                            "syscall:mount",
                                            "network:network access (Could not resolve)"});
}

TEST_CASE("a refused socket is a network denial, not a generic system call") {
    RunResult r = with_stderr("/bin/bash: socket: Operation not permitted\n");
    add_denials(r, context());
    CHECK(only(r).kind == "network");
}

TEST_CASE("memory exhaustion becomes the memory cap and full policy explains nothing") {
    RunResult r = with_stderr("MemoryError\n");
    add_denials(r, context());
    CHECK(r.reason == EndReason::memory_cap);
    CHECK(only(r).kind == "memory-cap");

    DenialContext full = context();
    full.mode = Mode::full;
    RunResult f = with_stderr("touch: cannot touch '/etc/x': Read-only file system\n");
    add_denials(f, full);
    CHECK(f.denials.empty());
}

TEST_CASE("a timeout is explained with the way out") {
    RunResult r;
    r.reason = EndReason::timeout;
    DenialContext c = context();
    c.limits.timeout = std::chrono::seconds(2);
    add_denials(r, c);
    CHECK(only(r).kind == "timeout");
    CHECK(only(r).how_to_allow.find("background") != std::string::npos);
    CHECK(r.explain().find("ended by timeout") != std::string::npos);
}
