#include "agent/runtime/shell_tool.hpp"

#include <poll.h>

#include "sandbox/run.hpp"

namespace osprey::agent {

void add_shell_tool_if_missing(tools::Registry& registry, const std::atomic<bool>* cancel) {
    if (registry.find("shell") != nullptr) {
        return;
    }
    tools::Tool tool;
    tool.name = "shell";
    tool.description =
        "Run a bash command in the workspace (sandboxed: the workspace is writable, .git "
        "read-only, "
        "no network). Returns the exit code, stdout and stderr.";
    tool.schema = {{"type", "object"},
                   {"properties",
                    {{"command", {{"type", "string"}, {"description", "the bash script to run"}}},
                     {"timeout_seconds",
                      {{"type", "integer"},
                       {"minimum", 1},
                       {"maximum", 3600},
                       {"description", "wall-clock limit (default 120)"}}}}},
                   {"required", {"command"}},
                   {"additionalProperties", false}};
    tool.permission = tools::Permission::execute;
    tool.run = [cancel](const nlohmann::json& args, tools::ToolContext& ctx) {
        sandbox::Policy policy;
        policy.workspace = ctx.workspace.root();
        policy.limits.timeout = std::chrono::seconds(tools::arg_int(args, "timeout_seconds", 120));
        sandbox::Process process = [&] {
            try {
                return sandbox::Process::start(
                    sandbox::Command::shell(tools::arg_string(args, "command")), policy);
            } catch (const sandbox::SandboxError& e) {
                throw tools::ToolError(std::string("the sandbox could not start the command: ") +
                                       e.what());
            }
        }();
        while (!process.done()) {
            if (cancel != nullptr && cancel->load()) {
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
            throw tools::ToolError("interrupted: the command was stopped by the user");
        }
        tools::ToolResult result;
        result.data = {{"exit_code", r.exit_code},
                       {"end", std::string(sandbox::to_string(r.reason))},
                       {"stdout", r.out},
                       {"stderr", r.err},
                       {"wall_ms", r.wall.count()}};
        std::string text = "exit code " + std::to_string(r.exit_code);
        if (r.reason != sandbox::EndReason::exited) {
            text = r.explain();
        }
        if (!r.out.empty()) {
            text += "\n[stdout]\n" + r.out;
        }
        if (!r.err.empty()) {
            text += "\n[stderr]\n" + r.err;
        }
        result.text = text;
        return result;
    };
    tool.truncation_hint = "narrow the command's output (e.g. pipe through tail or grep)";
    registry.add(std::move(tool));
}

}  // namespace osprey::agent
