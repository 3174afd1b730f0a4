#pragma once
// The tool registry: each tool's name, model-facing description, JSON schema of its arguments,
// permission class and handler. Registry::call validates the arguments against the schema before
// the handler runs, checks the permission, and caps the text shown to the model with an explicit
// marker and a hint for fetching the rest.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/policy.hpp"
#include "tools/core/tool_error.hpp"
#include "tools/core/workspace.hpp"

namespace osprey::sandbox {
class Process;
}

namespace osprey::tools {

class SymbolIndex;

enum class Permission { read, write, execute };
std::string_view permission_name(Permission permission);

struct TodoItem {
    std::string text;
    std::string status;  // "pending", "in_progress", "completed"
};

// What a handler returns: structured data (for programs, `osprey tool`) and the text the model
// sees.
struct ToolResult {
    nlohmann::json data = nlohmann::json::object();
    std::string text;
    // Shown after the truncation marker when `text` is capped; tools that page set a precise one
    // ("call read with start_line=2001").
    std::string continuation_hint;
};

// The state a tool call runs against. One per session; not shared between threads.
struct ToolContext {
    explicit ToolContext(Workspace ws) : workspace(std::move(ws)) {}

    Workspace workspace;
    // Set by the agent: a running tool (shell) stops as soon as it reads true (Ctrl-C, SIGTERM,
    // --timeout). Not owned.
    const std::atomic<bool>* cancel = nullptr;
    std::set<Permission> granted = {Permission::read, Permission::write, Permission::execute};
    std::size_t max_output_chars = 32 * 1024;
    // The symbol index database; empty = the default under the user's cache directory.
    std::filesystem::path index_path;
    std::vector<TodoItem> todos;  // the model's plan, kept by the `todo` tool
    // Osprey's data folder (the `memory` tool's project notes); empty: project memory is off.
    std::filesystem::path data_dir;
    // Set by the agent: called with the absolute path of every file a tool is about to create,
    // change or delete, before it does (file history for /rewind). May throw to refuse.
    std::function<void(const std::filesystem::path&)> before_change;

    // How `shell` runs commands (workspace-write, no network by default); the workspace is always
    // this context's root, and without write permission the mode drops to read-only.
    sandbox::Policy shell_policy;
    std::map<int, std::shared_ptr<sandbox::Process>> jobs;  // background shell commands
    int last_job_id = 0;

    // Code navigation keeps its index open across calls and refreshes it when a write or execute
    // tool ran since (`generation` counts those calls) or after `index_max_age`.
    std::shared_ptr<SymbolIndex> symbol_index;
    std::uint64_t generation = 0;
    std::uint64_t indexed_generation = 0;
    std::chrono::steady_clock::time_point indexed_at{};
    std::chrono::milliseconds index_max_age{2000};
};

using ToolHandler = std::function<ToolResult(const nlohmann::json& args, ToolContext& ctx)>;

struct Tool {
    std::string name;
    std::string description;  // written for the model
    nlohmann::json schema;    // JSON Schema of the arguments (an object schema)
    Permission permission = Permission::read;
    ToolHandler run;
    std::string truncation_hint;  // default hint when the text is capped
};

class Registry {
public:
    // Throws std::invalid_argument on a duplicate name or a schema that is not an object schema.
    void add(Tool tool);
    const Tool* find(std::string_view name) const;
    const std::vector<Tool>& tools() const { return tools_; }

    // Validates, runs and caps. Throws ArgumentError (unknown tool, invalid arguments) or ToolError
    // (permission refused, the tool failed); other exceptions from handlers become ToolError.
    ToolResult call(std::string_view name, const nlohmann::json& args, ToolContext& ctx) const;

    // [{name, description, permission, parameters}] for the system prompt and `osprey tool --list`.
    nlohmann::json schemas() const;

private:
    std::vector<Tool> tools_;
};

// Keeps whole lines up to `max_chars` and appends "[output truncated: ...; <hint>]". Returns
// whether it cut.
bool cap_text(std::string& text, std::size_t max_chars, std::string_view hint);

// Every built-in tool (files, search, git, code navigation, todo).
Registry make_default_registry();

// Argument accessors for handlers (the schema has already checked the types).
std::string arg_string(const nlohmann::json& args, const char* key, std::string fallback = {});
std::int64_t arg_int(const nlohmann::json& args, const char* key, std::int64_t fallback);
bool arg_bool(const nlohmann::json& args, const char* key, bool fallback);

}  // namespace osprey::tools
