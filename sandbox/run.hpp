#pragma once
// The public entry point of the sandbox: run a command tree under a Policy, blocking
// (sandbox::run) or asynchronously (sandbox::Process: a pidfd and non-blocking pipes an event loop
// can wait on, plus stop() for the whole tree).
//
//   sandbox::Policy policy;                       // workspace-write, no network, default limits
//   policy.workspace = "/src/project";
//   auto r = sandbox::run(sandbox::Command::shell("make -j2"), policy);
//   if (r.reason == sandbox::EndReason::timeout) ...; r.explain() is the text for the model.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sandbox/policy.hpp"

namespace osprey::sandbox {

// Thrown when a command cannot be started at all: a required mechanism is missing (fail closed),
// the workspace does not exist, or the kernel refuses to create the process.
class SandboxError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Command {
    std::vector<std::string> argv;  // argv[0] is looked up on the (scrubbed) PATH unless it has '/'
    std::filesystem::path cwd;      // empty: the workspace
    std::string stdin_data;         // what the command reads on stdin (default: nothing)
    // The environment before scrubbing ("NAME=value"); nullopt: this process's environment.
    std::optional<std::vector<std::string>> environment;
    // Set after scrubbing (the caller vouches for them): e.g. "OSPREY_JOB=3".
    std::vector<std::string> set_environment;

    // `bash -c SCRIPT` (or `sh -c` where bash is missing): pipes, here-docs, redirections.
    static Command shell(std::string script);
};

enum class EndReason {
    exited,        // the command exited by itself (exit_code)
    signaled,      // killed by a signal it did not get from the sandbox (signal)
    timeout,       // the wall-clock limit passed: the whole tree was killed
    output_cap,    // it wrote more than limits.output_stop_bytes: the whole tree was killed
    memory_cap,    // it ran out of its address-space limit (inferred from its exit)
    process_cap,   // it tried to run more than limits.max_processes processes
    cpu_cap,       // it used up limits.cpu_seconds (SIGXCPU / SIGKILL from RLIMIT_CPU)
    stopped,       // stop() was called (job_stop, user interrupt)
    setup_failed,  // the sandbox could not be set up in the child (message in setup_error)
};
std::string_view to_string(EndReason reason);

// Which mechanisms were in force for one run (or could be, for the probe).
struct Protection {
    bool user_namespace = false;
    bool mount_namespace = false;  // read-only binds, hidden secrets, private /tmp, minimal /dev
    bool pid_namespace = false;
    bool network_namespace = false;
    bool ipc_namespace = false;
    bool proc_mounted = false;  // a /proc showing only the sandbox's processes
    bool loopback = false;      // `lo` is up inside the network namespace
    bool seccomp = false;
    int landlock_abi = 0;  // 0: not applied
    bool no_new_privs = false;
    bool rlimits = false;
};

// One thing the sandbox refused, for the model and the user.
struct Denial {
    std::string kind;  // fs-write, secret, network, syscall, process-cap, memory-cap, timeout, ...
    std::string what;  // "write to /etc/passwd", "ptrace", "connect to 127.0.0.1:8080"
    std::string why;   // the rule that denied it
    std::string how_to_allow;  // the permission rule or policy that would allow it
};

struct RunResult {
    EndReason reason = EndReason::exited;
    int exit_code = -1;  // valid for exited (and the memory/cpu caps when it exited by itself)
    int signal = 0;      // the signal that ended it, when one did
    std::string out;     // captured stdout (head and tail when cut, with a marker between)
    std::string err;
    std::uint64_t out_total = 0;  // bytes the command wrote, kept or not
    std::uint64_t err_total = 0;
    std::chrono::milliseconds wall{0};
    Mode mode = Mode::workspace_write;
    Protection protection;
    std::vector<std::string> degraded;  // layers that could not be put in force, and why
    std::vector<Denial> denials;
    std::string setup_error;

    bool ok() const { return reason == EndReason::exited && exit_code == 0; }
    // A compact report for the model: how it ended, what was cut, denied or degraded.
    std::string explain() const;
};

// A started sandboxed command. Move-only; the destructor stops the tree if it still runs.
// Async use: wait for readability on stdout_fd()/stderr_fd() and pidfd(), call pump() when one is
// readable, and finish() (which no longer blocks) once done() is true.
class Process {
public:
    static Process start(const Command& command, const Policy& policy);

    Process(Process&&) noexcept;
    Process& operator=(Process&&) noexcept;
    ~Process();

    int pid() const;
    int pidfd() const;      // readable when the sandbox's init (hence the whole tree) has exited
    int stdout_fd() const;  // non-blocking; -1 once at end of file
    int stderr_fd() const;
    std::chrono::steady_clock::time_point started() const;
    std::optional<std::chrono::steady_clock::time_point> deadline() const;

    // Reads whatever is available without blocking; enforces the output stop cap and the
    // deadline. Returns true while the command may still produce output or has not exited.
    bool pump();
    bool done();  // exited and both pipes drained (non-blocking)
    // Output produced since the last call (uncapped, for streaming to a UI or a job poll).
    std::string take_new_stdout();
    std::string take_new_stderr();
    // Kills the whole tree now (SIGKILL to the namespace's init; the kernel kills the rest).
    void stop(EndReason why = EndReason::stopped);
    // Waits (pumping, honouring the timeout) until the end and returns the result.
    RunResult finish();

private:
    struct State;
    explicit Process(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// Runs to completion. Throws SandboxError when the command cannot be started under the policy.
RunResult run(const Command& command, const Policy& policy);

}  // namespace osprey::sandbox
