// The `todo` tool: the model's plan, a list of items with a status, replaced whole on each call
// and rendered as a checklist (the agent shows the same text to the user).
#include "tools/core/registry.hpp"

namespace osprey::tools {
namespace {

ToolResult run_todo(const nlohmann::json& args, ToolContext& ctx) {
    std::vector<TodoItem> items;
    std::size_t in_progress = 0;
    for (const auto& item : args.at("items")) {
        TodoItem todo{item.at("text").get<std::string>(), item.value("status", "pending")};
        if (todo.text.empty())
            throw ToolError("a todo item has empty text");
        in_progress += todo.status == "in_progress" ? 1 : 0;
        items.push_back(std::move(todo));
    }
    if (in_progress > 1) {
        throw ToolError("only one item may be in_progress at a time (" +
                        std::to_string(in_progress) + " are)");
    }
    ctx.todos = items;
    ToolResult result;
    nlohmann::json list = nlohmann::json::array();
    std::size_t done = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& item = items[i];
        list.push_back({{"id", i + 1}, {"text", item.text}, {"status", item.status}});
        const char* box = item.status == "completed"     ? "[x]"
                          : item.status == "in_progress" ? "[~]"
                                                         : "[ ]";
        done += item.status == "completed" ? 1 : 0;
        result.text += std::string(box) + " " + std::to_string(i + 1) + ". " + item.text + "\n";
    }
    if (items.empty())
        result.text = "(plan cleared)\n";
    result.data = {{"items", list}, {"completed", done}, {"total", items.size()}};
    return result;
}

}  // namespace

void add_todo_tool(Registry& registry) {
    const nlohmann::json item = {
        {"type", "object"},
        {"properties",
         {{"text", {{"type", "string"}, {"minLength", 1}}},
          {"status", {{"type", "string"}, {"enum", {"pending", "in_progress", "completed"}}}}}},
        {"required", {"text"}},
        {"additionalProperties", false}};
    registry.add({"todo",
                  "Keep your plan: pass the whole list of items each time, each with text and a "
                  "status (pending, in_progress, completed; at most one in_progress). The user "
                  "sees the list.",
                  {{"type", "object"},
                   {"properties", {{"items", {{"type", "array"}, {"items", item}}}}},
                   {"required", {"items"}},
                   {"additionalProperties", false}},
                  Permission::read,
                  run_todo,
                  ""});
}

}  // namespace osprey::tools
