#include "tools/shell/shell_tool.hpp"

#include <poll.h>

#include <algorithm>
#include <filesystem>

#include "sandbox/run.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::int64_t kDefaultTimeoutS = 120;
constexpr std::int64_t kMaxTimeoutS = 3600;

sandbox::Policy policy_for(const ToolContext& ctx, std::int64_t timeout_s) {
    sandbox::Policy policy = ctx.shell_policy;
    policy.workspace = ctx.workspace.root();
    // Without write permission the command may not write the workspace either.
    if (ctx.granted.count(Permission::write) == 0 && policy.mode != sandbox::Mode::read_only) {
        policy.mode = sandbox::Mode::read_only;
    }
    policy.limits.timeout = std::chrono::seconds(timeout_s);
    policy.limits.output_bytes =
        std::min<std::size_t>(policy.limits.output_bytes, ctx.max_output_chars);
    return policy;
}

json result_json(const sandbox::RunResult& r) {
    json denials = json::array();
    for (const auto& d : r.denials) {
        denials.push_back(
            {{"kind", d.kind}, {"what", d.what}, {"why", d.why}, {"how_to_allow", d.how_to_allow}});
    }
    return {{"exit_code", r.exit_code},
            {"reason", sandbox::to_string(r.reason)},
            {"signal", r.signal},
            {"timed_out", r.reason == sandbox::EndReason::timeout},
            {"stdout", r.out},
            {"stderr", r.err},
            {"stdout_bytes", r.out_total},
            {"stderr_bytes", r.err_total},
            {"wall_ms", r.wall.count()},
            {"sandbox", sandbox::to_string(r.mode)},
            {"degraded", r.degraded},
            {"denials", denials}};
}

std::string result_text(const sandbox::RunResult& r) {
    std::string text;
    if (!r.out.empty()) {
        text += r.out;
        if (text.back() != '\n')
            text += '\n';
    }
    if (!r.err.empty()) {
        text += "[stderr]\n" + r.err;
        if (text.back() != '\n')
            text += '\n';
    }
    return text + r.explain();
}

// sandbox::run, except that the whole tree is stopped as soon as `*cancel` becomes true.
sandbox::RunResult run_cancellable(const sandbox::Command& cmd, const sandbox::Policy& policy,
                                   const std::atomic<bool>* cancel) {
    if (cancel == nullptr) {
        return sandbox::run(cmd, policy);
    }
    sandbox::Process process = sandbox::Process::start(cmd, policy);
    while (!process.done()) {
        if (cancel->load()) {
            process.stop(sandbox::EndReason::stopped);
            break;
        }
        pollfd fds[3] = {{process.pidfd(), POLLIN, 0},
                         {process.stdout_fd(), POLLIN, 0},
                         {process.stderr_fd(), POLLIN, 0}};
        ::poll(fds, 3, 50);
        process.pump();
    }
    sandbox::RunResult r = process.finish();
    if (r.reason == sandbox::EndReason::stopped) {
        throw ToolError("interrupted: the command was stopped by the user");
    }
    return r;
}

ToolResult run_shell(const json& args, ToolContext& ctx) {
    const std::string command = arg_string(args, "command");
    if (command.find_first_not_of(" \t\n") == std::string::npos) {
        throw ToolError("the command is empty");
    }
    const std::int64_t timeout_s = arg_int(args, "timeout_s", kDefaultTimeoutS);
    sandbox::Command cmd = sandbox::Command::shell(command);
    if (args.contains("cwd"))
        cmd.cwd = ctx.workspace.resolve(arg_string(args, "cwd"));
    const sandbox::Policy policy = policy_for(ctx, timeout_s);
    ToolResult result;
    try {
        if (arg_bool(args, "background", false)) {
            auto process = std::make_shared<sandbox::Process>(sandbox::Process::start(cmd, policy));
            const int id = ++ctx.last_job_id;
            ctx.jobs[id] = process;
            result.data = {{"job_id", id}, {"pid", process->pid()}, {"command", command}};
            result.text = "started job " + std::to_string(id) + " (pid " +
                          std::to_string(process->pid()) + ", timeout " +
                          std::to_string(timeout_s) +
                          " s); call job_output with job_id=" + std::to_string(id) +
                          " to read its output or stop it\n";
            return result;
        }
        const sandbox::RunResult r = run_cancellable(cmd, policy, ctx.cancel);
        result.data = result_json(r);
        result.text = result_text(r);
    } catch (const sandbox::SandboxError& e) {
        throw ToolError(std::string("the sandbox could not start the command: ") + e.what());
    }
    result.continuation_hint = "narrow the command's output (| head, | tail, grep)";
    return result;
}

ToolResult run_job_output(const json& args, ToolContext& ctx) {
    const int id = static_cast<int>(arg_int(args, "job_id", 0));
    auto it = ctx.jobs.find(id);
    if (it == ctx.jobs.end()) {
        throw ToolError("no job " + std::to_string(id) +
                        " (jobs still known: " + std::to_string(ctx.jobs.size()) + ")");
    }
    sandbox::Process& process = *it->second;
    if (arg_bool(args, "stop", false))
        process.stop();
    const auto wait_ms = static_cast<int>(arg_int(args, "wait_s", 0) * 1000);
    // Wait (up to wait_s) for the job to end, pumping its output as it comes.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (process.pump() && std::chrono::steady_clock::now() < until) {
        pollfd fds[3] = {{process.pidfd(), POLLIN, 0},
                         {process.stdout_fd(), POLLIN, 0},
                         {process.stderr_fd(), POLLIN, 0}};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              until - std::chrono::steady_clock::now())
                              .count();
        ::poll(fds, 3, static_cast<int>(std::clamp<long long>(left, 0, 1000)));
    }
    ToolResult result;
    if (process.done()) {
        const sandbox::RunResult r = process.finish();
        result.data = result_json(r);
        result.data["job_id"] = id;
        result.data["running"] = false;
        result.text = result_text(r);
        ctx.jobs.erase(it);
        return result;
    }
    const std::string out = process.take_new_stdout();
    const std::string err = process.take_new_stderr();
    result.data = {{"job_id", id}, {"running", true}, {"new_stdout", out}, {"new_stderr", err}};
    result.text = out + (err.empty() ? "" : "[stderr]\n" + err) + "[job " + std::to_string(id) +
                  " still running]\n";
    return result;
}

}  // namespace

void add_shell_tools(Registry& registry) {
    registry.add(
        {"shell",
         "Run a bash command line in the workspace, inside the sandbox (by default it may write "
         "only the workspace, has no network, and cannot see credentials). timeout_s (default "
         "120) kills the whole process tree; long output keeps its head and tail. The result has "
         "the exit status. background=true starts a job: read or stop it with job_output.",
         {{"type", "object"},
          {"properties",
           {{"command", {{"type", "string"}, {"minLength", 1}}},
            {"timeout_s", {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxTimeoutS}}},
            {"background", {{"type", "boolean"}}},
            {"cwd", {{"type", "string"}}}}},
          {"required", {"command"}},
          {"additionalProperties", false}},
         Permission::execute,
         run_shell,
         "narrow the command's output (| head, | tail, grep)"});
    registry.add({"job_output",
                  "Read the new output of a background shell job, waiting up to wait_s seconds "
                  "for it to finish; stop=true kills it. A finished job reports its exit status.",
                  {{"type", "object"},
                   {"properties",
                    {{"job_id", {{"type", "integer"}, {"minimum", 1}}},
                     {"wait_s", {{"type", "integer"}, {"minimum", 0}, {"maximum", 600}}},
                     {"stop", {{"type", "boolean"}}}}},
                   {"required", {"job_id"}},
                   {"additionalProperties", false}},
                  Permission::execute,
                  run_job_output,
                  ""});
}

}  // namespace osprey::tools
