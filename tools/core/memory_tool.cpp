// The `memory` tool: short project notes the model keeps per workspace (memory/notes.hpp). They
// are shown in the system prompt of later sessions in the same workspace; the user manages them
// with `osprey notes`.
#include "memory/notes.hpp"
#include "memory/store.hpp"
#include "tools/core/registry.hpp"

namespace osprey::tools {
namespace {

ToolResult run_memory(const nlohmann::json& args, ToolContext& ctx) {
    if (ctx.data_dir.empty()) {
        throw ToolError("project memory is off in this session (no data folder)");
    }
    const std::string action = args.at("action").get<std::string>();
    const std::string workspace = ctx.workspace.root().string();
    memory::Store store = memory::Store::open(ctx.data_dir);
    memory::ProjectNotes notes(store.db());
    const auto text = [&]() {
        if (!args.contains("text") || args.at("text").get<std::string>().empty()) {
            throw ToolError("action '" + action + "' needs a non-empty text");
        }
        return args.at("text").get<std::string>();
    };
    const auto id = [&]() {
        if (!args.contains("id")) {
            throw ToolError("action '" + action + "' needs the id of a note (see action list)");
        }
        const std::int64_t n = args.at("id").get<std::int64_t>();
        for (const auto& note : notes.list(workspace)) {
            if (note.id == n) {
                return n;
            }
        }
        throw ToolError("there is no note " + std::to_string(n) +
                        " in this workspace (see action list)");
    };
    ToolResult result;
    if (action == "save") {
        const std::int64_t n = notes.add(workspace, text());
        result.text = "saved note " + std::to_string(n) + "; later sessions here will see it";
        result.data = {{"id", n}};
    } else if (action == "update") {
        const std::int64_t n = id();
        notes.update(n, text());
        result.text = "updated note " + std::to_string(n);
        result.data = {{"id", n}};
    } else if (action == "delete") {
        const std::int64_t n = id();
        notes.remove(n);
        result.text = "deleted note " + std::to_string(n);
        result.data = {{"id", n}};
    } else {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& note : notes.list(workspace)) {
            list.push_back({{"id", note.id}, {"text", note.text}});
            result.text += std::to_string(note.id) + ". " + note.text + "\n";
        }
        if (list.empty()) {
            result.text = "(no notes saved for this workspace)\n";
        }
        result.data = {{"notes", list}};
    }
    return result;
}

}  // namespace

void add_memory_tool(Registry& registry) {
    registry.add(
        {"memory",
         "Project memory: short notes about this workspace that later sessions will see in "
         "their instructions (build and test commands, conventions, pitfalls you found). "
         "action: save (text), list, update (id, text) or delete (id). Save only what stays "
         "true and helps next time; never secrets.",
         {{"type", "object"},
          {"properties",
           {{"action", {{"type", "string"}, {"enum", {"save", "list", "update", "delete"}}}},
            {"text", {{"type", "string"}, {"minLength", 1}, {"maxLength", 2000}}},
            {"id", {{"type", "integer"}, {"minimum", 1}}}}},
          {"required", {"action"}},
          {"additionalProperties", false}},
         Permission::write,
         run_memory,
         ""});
}

}  // namespace osprey::tools
