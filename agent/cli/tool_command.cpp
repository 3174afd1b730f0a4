#include "agent/cli/tool_command.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "memory/store.hpp"
#include "tools/core/registry.hpp"

namespace osprey::agent::cli {
namespace {

int run_tool(const Args& args, Io& io) {
    const tools::Registry registry = tools::make_default_registry();
    if (args.has("--list")) {
        if (!args.positionals().empty()) {
            throw UsageError("--list takes no tool name");
        }
        io.out << registry.schemas().dump(2) << "\n";
        return kExitOk;
    }
    if (args.positionals().empty()) {
        throw UsageError("missing the tool name (see 'osprey tool --list')");
    }
    const std::string& name = args.positionals().front();
    if (registry.find(name) == nullptr) {
        std::vector<std::string> names;
        for (const auto& t : registry.tools())
            names.push_back(t.name);
        std::string msg = "unknown tool '" + name + "'";
        if (auto near = closest_name(name, names))
            msg += " (did you mean '" + *near + "'?)";
        throw UsageError(msg + "; 'osprey tool --list' shows them all");
    }
    nlohmann::json tool_args = nlohmann::json::object();
    if (auto text = args.value("--args")) {
        try {
            tool_args = nlohmann::json::parse(*text);
        } catch (const nlohmann::json::parse_error& e) {
            throw UsageError("--args is not valid JSON: " + std::string(e.what()));
        }
    }
    const std::filesystem::path root =
        args.value("--root").value_or(std::filesystem::current_path().string());
    std::optional<tools::ToolContext> ctx;
    try {
        ctx.emplace(tools::Workspace(root));
    } catch (const tools::ToolError& e) {
        throw UsageError(std::string("--root: ") + e.what());
    }
    if (auto index = args.value("--index"))
        ctx->index_path = *index;
    if (auto data = args.value("--data-dir")) {
        ctx->data_dir = *data;
    } else {
        try {
            ctx->data_dir = memory::default_data_dir();
        } catch (const std::exception&) {
            // no HOME/XDG_DATA_HOME: the memory tool says project memory is off
        }
    }
    if (args.has("--read-only"))
        ctx->granted = {tools::Permission::read};
    if (auto cap = args.value("--max-output")) {
        try {
            ctx->max_output_chars = std::stoul(*cap);
        } catch (const std::exception&) {
            throw UsageError("--max-output needs a number of characters, got '" + *cap + "'");
        }
    }
    try {
        tools::ToolResult result = registry.call(name, tool_args, *ctx);
        if (args.has("--text")) {
            io.out << result.text;
        } else {
            nlohmann::json out = {{"tool", name}, {"result", result.data}, {"text", result.text}};
            io.out << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
        return kExitOk;
    } catch (const tools::ArgumentError& e) {
        io.err << "osprey tool: " << e.what() << "\n";
        return kExitUsage;
    } catch (const tools::ToolError& e) {
        io.err << "osprey tool: " << name << " failed: " << e.what() << "\n";
        return kExitFailure;
    }
}

}  // namespace

Command tool_command() {
    Command cmd;
    cmd.name = "tool";
    cmd.summary = "run one of the agent's tools (files, grep, git, code navigation) directly";
    cmd.description =
        "Runs the tool NAME with the JSON arguments given by --args against the workspace --root\n"
        "(default: the current folder) and prints {\"tool\", \"result\", \"text\"} as JSON, where\n"
        "\"text\" is what the model would see. Exit 0 on success, 2 when the arguments are wrong\n"
        "(not JSON, fail the tool's schema, unknown tool), 1 when the tool fails.";
    cmd.positional_usage = "NAME";
    cmd.max_positionals = 1;
    cmd.options = {
        {"--args", "JSON", "the tool's arguments as a JSON object (default {})"},
        {"--root", "DIR", "the workspace root every path is resolved in (default: .)"},
        {"--list", "", "print every tool's name, description, permission and JSON schema"},
        {"--text", "", "print only the text the model would see"},
        {"--index", "FILE", "the code navigation symbol index (default: under ~/.cache/osprey)"},
        {"--read-only", "", "refuse tools that write or execute"},
        {"--data-dir", "DIR",
         "Osprey's data folder, for the memory tool (default ~/.local/share/osprey)"},
        {"--max-output", "CHARS", "cap on the text shown to the model (default 32768)"},
    };
    cmd.run = run_tool;
    return cmd;
}

}  // namespace osprey::agent::cli
