#include "tools/core/registry.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "tools/core/json_schema.hpp"

namespace osprey::tools {

std::string_view permission_name(Permission permission) {
    switch (permission) {
        case Permission::read:
            return "read";
        case Permission::write:
            return "write";
        case Permission::execute:
            return "execute";
    }
    return "read";
}

void Registry::add(Tool tool) {
    if (find(tool.name) != nullptr) {
        throw std::invalid_argument("tool '" + tool.name + "' is registered twice");
    }
    if (!tool.schema.is_object() || tool.schema.value("type", "") != "object") {
        throw std::invalid_argument("tool '" + tool.name + "': schema must be an object schema");
    }
    tools_.push_back(std::move(tool));
}

const Tool* Registry::find(std::string_view name) const {
    for (const auto& tool : tools_) {
        if (tool.name == name)
            return &tool;
    }
    return nullptr;
}

ToolResult Registry::call(std::string_view name, const nlohmann::json& args,
                          ToolContext& ctx) const {
    const Tool* tool = find(name);
    if (tool == nullptr) {
        std::string names;
        for (const auto& t : tools_)
            names += (names.empty() ? "" : ", ") + t.name;
        throw ArgumentError("unknown tool '" + std::string(name) + "' (tools: " + names + ")");
    }
    const auto problems = validate_json(tool->schema, args);
    if (!problems.empty()) {
        std::string message = "invalid arguments for tool '" + tool->name + "': ";
        for (std::size_t i = 0; i < problems.size(); ++i) {
            message += (i == 0 ? "" : "; ") + problems[i];
        }
        throw ArgumentError(message);
    }
    if (ctx.granted.count(tool->permission) == 0) {
        throw ToolError("tool '" + tool->name + "' needs " +
                        std::string(permission_name(tool->permission)) +
                        " permission, which this session does not grant");
    }
    ToolResult result;
    if (tool->permission != Permission::read)
        ++ctx.generation;  // even if it fails half-way
    try {
        result = tool->run(args, ctx);
    } catch (const ToolError&) {
        throw;
    } catch (const std::filesystem::filesystem_error& e) {
        throw ToolError(tool->name + ": " + e.code().message() + ": " + e.path1().string());
    } catch (const std::exception& e) {
        throw ToolError(tool->name + ": " + e.what());
    }
    const std::string hint =
        result.continuation_hint.empty() ? tool->truncation_hint : result.continuation_hint;
    if (cap_text(result.text, ctx.max_output_chars, hint)) {
        result.data["truncated"] = true;
    }
    return result;
}

nlohmann::json Registry::schemas() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& tool : tools_) {
        out.push_back({{"name", tool.name},
                       {"description", tool.description},
                       {"permission", permission_name(tool.permission)},
                       {"parameters", tool.schema}});
    }
    return out;
}

bool cap_text(std::string& text, std::size_t max_chars, std::string_view hint) {
    if (text.size() <= max_chars)
        return false;
    const std::size_t total_lines =
        static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) +
        (text.empty() || text.back() == '\n' ? 0 : 1);
    std::size_t cut = text.rfind('\n', max_chars);
    cut = (cut == std::string::npos || cut == 0) ? max_chars : cut + 1;
    const std::size_t kept_lines =
        static_cast<std::size_t>(std::count(text.begin(), text.begin() + cut, '\n'));
    const std::size_t total_chars = text.size();
    text.resize(cut);
    if (!text.empty() && text.back() != '\n')
        text += '\n';
    text += "[output truncated: " + std::to_string(kept_lines) + " of " +
            std::to_string(total_lines) + " lines (" + std::to_string(cut) + " of " +
            std::to_string(total_chars) + " characters) shown";
    if (!hint.empty())
        text += "; " + std::string(hint);
    text += "]\n";
    return true;
}

std::string arg_string(const nlohmann::json& args, const char* key, std::string fallback) {
    auto it = args.find(key);
    return it != args.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::int64_t arg_int(const nlohmann::json& args, const char* key, std::int64_t fallback) {
    auto it = args.find(key);
    return it != args.end() && it->is_number() ? it->get<std::int64_t>() : fallback;
}

bool arg_bool(const nlohmann::json& args, const char* key, bool fallback) {
    auto it = args.find(key);
    return it != args.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

}  // namespace osprey::tools
