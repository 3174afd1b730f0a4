#include "agent/cli/sandbox_commands.hpp"

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sandbox/probe.hpp"
#include "sandbox/run.hpp"

extern char** environ;

namespace osprey::agent::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

nlohmann::json protection_json(const sandbox::Protection& p) {
    return {{"user_namespace", p.user_namespace},
            {"mount_namespace", p.mount_namespace},
            {"pid_namespace", p.pid_namespace},
            {"network_namespace", p.network_namespace},
            {"ipc_namespace", p.ipc_namespace},
            {"private_proc", p.proc_mounted},
            {"loopback", p.loopback},
            {"seccomp", p.seccomp},
            {"landlock_abi", p.landlock_abi},
            {"no_new_privs", p.no_new_privs},
            {"rlimits", p.rlimits}};
}

int run_check(const Args& args, Io& io) {
    const sandbox::ProbeReport report = sandbox::probe();
    if (args.has("--json")) {
        nlohmann::json mechanisms = nlohmann::json::array();
        for (const auto& m : report.mechanisms) {
            mechanisms.push_back(
                {{"name", m.name}, {"available", m.available}, {"detail", m.detail}});
        }
        nlohmann::json out = {{"kernel", report.kernel},
                              {"mechanisms", mechanisms},
                              {"workspace_write", protection_json(report.workspace_write)},
                              {"degraded", report.degraded},
                              {"fully_protected", report.fully_protected()}};
        if (!report.error.empty()) {
            out["error"] = report.error;
        }
        io.out << out.dump(2) << "\n";
    } else {
        io.out << sandbox::format_report(report);
    }
    return report.error.empty() ? kExitOk : kExitFailure;
}

sandbox::Policy policy_from(const Args& args) {
    sandbox::Policy policy;
    if (auto p = args.value("--policy")) {
        const auto mode = sandbox::parse_mode(*p);
        if (!mode) {
            throw UsageError("unknown policy '" + *p +
                             "' for --policy: expected read-only, workspace-write or full");
        }
        policy.mode = *mode;
    }
    policy.workspace = args.value("--workspace").value_or(args.value("--cwd").value_or(""));
    for (const auto& w : args.values("--writable")) {
        policy.writable.emplace_back(w);
    }
    for (const auto& h : args.values("--hide")) {
        policy.hidden.emplace_back(h);
    }
    for (const auto& e : args.values("--allow-env")) {
        policy.environment.extra_allow.push_back(e);
    }
    policy.network = args.has("--network");
    for (const auto& list : args.values("--require")) {
        std::size_t start = 0;
        while (start <= list.size()) {
            const std::size_t end = std::min(list.find(',', start), list.size());
            const std::string name = list.substr(start, end - start);
            const auto r = sandbox::parse_requirement(name);
            if (!r) {
                throw UsageError("unknown mechanism '" + name +
                                 "' for --require: expected net, fs, seccomp or pid");
            }
            policy.require.push_back(*r);
            start = end + 1;
        }
    }
    if (auto t = args.value("--timeout")) {
        char* end = nullptr;
        const double seconds = std::strtod(t->c_str(), &end);
        if (end == t->c_str() || *end != '\0' || seconds < 0) {
            throw UsageError("--timeout needs a number of seconds (0: none), not '" + *t + "'");
        }
        policy.limits.timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
    // A person at a terminal reads everything: stream it, never stop for volume.
    policy.limits.output_bytes = 8 << 20;
    policy.limits.output_stop_bytes = 0;
    return policy;
}

int run_sandboxed(const Args& args, Io& io) {
    if (args.positionals().empty()) {
        throw UsageError("missing the command to run (osprey sandbox run [options] -- CMD ...)");
    }
    const sandbox::Policy policy = policy_from(args);
    sandbox::Command command;
    command.argv = args.positionals();
    if (auto cwd = args.value("--cwd")) {
        command.cwd = fs::absolute(*cwd);
    }
    std::optional<sandbox::Process> process;
    try {
        process.emplace(sandbox::Process::start(command, policy));
    } catch (const sandbox::SandboxError& e) {
        io.err << "osprey: sandbox: " << e.what() << "\n";
        return kExitFailure;
    }
    auto forward = [&] {
        if (auto text = process->take_new_stdout(); !text.empty()) {
            io.out << text << std::flush;
        }
        if (auto text = process->take_new_stderr(); !text.empty()) {
            io.err << text << std::flush;
        }
    };
    while (process->pump()) {
        forward();
        pollfd fds[3];
        nfds_t n = 0;
        for (const int fd : {process->stdout_fd(), process->stderr_fd(), process->pidfd()}) {
            if (fd >= 0) {
                fds[n++] = {fd, POLLIN, 0};
            }
        }
        poll(fds, n, 50);
    }
    forward();
    const sandbox::RunResult r = process->finish();
    const bool noteworthy = r.reason != sandbox::EndReason::exited || !r.denials.empty() ||
                            !r.degraded.empty() || !r.setup_error.empty();
    if (args.has("--explain") || noteworthy) {
        io.err << "osprey: sandbox: " << r.explain();
    }
    switch (r.reason) {
        case sandbox::EndReason::exited:
        case sandbox::EndReason::memory_cap:
            return r.exit_code;
        case sandbox::EndReason::timeout:
            return 124;
        case sandbox::EndReason::setup_failed:
            return kExitFailure;
        default:
            return r.exit_code >= 0 ? r.exit_code : kExitFailure;
    }
}

double median_ms(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

double percentile_ms(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
}

int run_bench_sandbox(const Args& args, Io& io) {
    int runs = 200;
    if (auto n = args.value("--runs")) {
        runs = std::atoi(n->c_str());
        if (runs <= 0) {
            throw UsageError("--runs needs a positive number, not '" + *n + "'");
        }
    }
    sandbox::Policy policy;
    if (auto p = args.value("--policy")) {
        const auto mode = sandbox::parse_mode(*p);
        if (!mode) {
            throw UsageError("unknown policy '" + *p + "' for --policy");
        }
        policy.mode = *mode;
    }
    const std::string true_path = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";
    char dir[] = "/tmp/osprey-bench-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
        io.err << "osprey: cannot create a scratch workspace in /tmp\n";
        return kExitFailure;
    }
    policy.workspace = dir;
    std::vector<double> plain;
    std::vector<double> boxed;
    sandbox::Command command;
    command.argv = {true_path};
    sandbox::Protection protection;
    for (int i = 0; i < runs; ++i) {
        // Interleaved, so drift on a shared machine hits both alike.
        auto t0 = Clock::now();
        pid_t pid = 0;
        char* argv[] = {const_cast<char*>(true_path.c_str()), nullptr};
        if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0) {
            int st = 0;
            waitpid(pid, &st, 0);
        }
        plain.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        t0 = Clock::now();
        const sandbox::RunResult r = sandbox::run(command, policy);
        boxed.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!r.ok()) {
            io.err << "osprey: the sandboxed run failed: " << r.explain();
            rmdir(dir);
            return kExitFailure;
        }
        protection = r.protection;
    }
    rmdir(dir);
    const double added = median_ms(boxed) - median_ms(plain);
    char line[256];
    io.out << "sandbox start-up: " << runs << " runs of " << true_path << ", policy "
           << sandbox::to_string(policy.mode) << " (namespaces "
           << (protection.user_namespace ? "yes" : "no") << ", seccomp "
           << (protection.seccomp ? "yes" : "no") << ", landlock ABI " << protection.landlock_abi
           << ")\n";
    std::snprintf(line, sizeof line, "  unconfined: median %.2f ms (p10 %.2f, p90 %.2f)\n",
                  median_ms(plain), percentile_ms(plain, 0.1), percentile_ms(plain, 0.9));
    io.out << line;
    std::snprintf(line, sizeof line, "  sandboxed:  median %.2f ms (p10 %.2f, p90 %.2f)\n",
                  median_ms(boxed), percentile_ms(boxed, 0.1), percentile_ms(boxed, 0.9));
    io.out << line;
    std::snprintf(line, sizeof line, "  added:      median %.2f ms (target <= 15 ms)\n", added);
    io.out << line;
    return kExitOk;
}

}  // namespace

Command sandbox_command() {
    Command check;
    check.name = "check";
    check.summary = "report which sandbox mechanisms work here and what protection is in force";
    check.description =
        "Runs a real command under workspace-write and reports each layer (namespaces, seccomp,\n"
        "Landlock, rlimits). Exit 1 when no sandboxed command can run at all.";
    check.options = {{"--json", "", "print as JSON"}};
    check.run = run_check;

    Command run;
    run.name = "run";
    run.summary = "run a command under a sandbox policy";
    run.description =
        "Streams the command's output. Exit status: the command's own; 124 when the timeout\n"
        "killed it; 128+N when a signal (or a sandbox cap) did; 1 when the sandbox could not\n"
        "start it (for example a --require'd mechanism is missing). The sandbox's report\n"
        "(denials, degraded layers) goes to stderr after the command's output.";
    run.positional_usage = "-- CMD [ARG...]";
    run.max_positionals = 100000;
    run.options = {
        {"--policy", "P", "read-only, workspace-write (default) or full (no confinement)"},
        {"--cwd", "DIR", "working directory (default: the current one); also the workspace"},
        {"--workspace", "DIR", "the writable workspace (default: --cwd)"},
        {"--writable", "PATH", "also writable (a permission rule)", true},
        {"--hide", "PATH", "also hidden, beside ~/.ssh, ~/.aws, ... ", true},
        {"--allow-env", "NAME", "pass this environment variable too", true},
        {"--network", "", "allow network access"},
        {"--require", "LIST", "fail unless these are in force: net,fs,seccomp,pid", true},
        {"--timeout", "SECONDS",
         "wall-clock limit, the whole tree is killed (default 120; 0: none)"},
        {"--explain", "", "always print the sandbox's report"}};
    run.run = run_sandboxed;

    Command c;
    c.name = "sandbox";
    c.summary = "check the command sandbox or run a command in it";
    c.subcommands = {check, run};
    return c;
}

Command sandbox_bench_command() {
    Command sandbox;
    sandbox.name = "sandbox";
    sandbox.summary = "median start-up overhead of a sandboxed `true` against an unconfined one";
    sandbox.options = {{"--runs", "N", "runs of each (default 200)"},
                       {"--policy", "P", "policy of the sandboxed runs (default workspace-write)"}};
    sandbox.run = run_bench_sandbox;
    return sandbox;
}

}  // namespace osprey::agent::cli
