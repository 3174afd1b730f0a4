#include "model/chat/chat_encoder.hpp"

#include <algorithm>
#include <map>

#include "model/chat/python_json.hpp"

namespace osprey::model {
namespace {

using json = nlohmann::ordered_json;
namespace tk = chat_tokens;

constexpr std::string_view kReasoningEffortMax =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to "
    "resolve the root cause, rigorously stress-testing your logic against all potential paths, "
    "edge cases, and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, "
    "considered alternative, and rejected hypothesis to ensure absolutely no assumption is left "
    "unchecked.\n\n";

constexpr std::string_view kToolsHead =
    "## Tools\n\n"
    "You have access to a set of tools to help answer the user's question. You can invoke tools "
    "by writing a \"<｜DSML｜tool_calls>\" block like the following:\n\n"
    "<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" "
    "string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME2\">\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>\n\n"
    "String parameters should be specified as is and set `string=\"true\"`. For all other types "
    "(numbers, booleans, arrays, objects), pass the value in JSON format and set "
    "`string=\"false\"`.\n\n"
    "If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning "
    "inside <think>...</think> BEFORE any tool calls or final response.\n\n"
    "Otherwise, output directly after </think> with tool calls or final response.\n\n"
    "### Available Tool Schemas\n\n";
constexpr std::string_view kToolsTail =
    "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to invoke "
    "tool calls.\n";
constexpr std::string_view kResponseFormatHead =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

const std::map<std::string, std::string_view, std::less<>>& task_tokens() {
    static const std::map<std::string, std::string_view, std::less<>> tokens{
        {"action", "<｜action｜>"}, {"query", "<｜query｜>"}, {"authority", "<｜authority｜>"},
        {"domain", "<｜domain｜>"}, {"title", "<｜title｜>"}, {"read_url", "<｜read_url｜>"}};
    return tokens;
}

std::string where(std::size_t index) {
    return "message " + std::to_string(index);
}

std::string role_of(const json& m) {
    if (!m.is_object()) {
        return {};
    }
    const auto it = m.find("role");
    return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Python truthiness of an optional member.
bool truthy(const json& m, const char* key) {
    const auto it = m.find(key);
    if (it == m.end() || it->is_null()) {
        return false;
    }
    if (it->is_boolean()) {
        return it->get<bool>();
    }
    if (it->is_string() || it->is_array() || it->is_object()) {
        return !it->empty();
    }
    return true;
}

bool has_non_null(const json& m, const char* key) {
    const auto it = m.find(key);
    return it != m.end() && !it->is_null();
}

// Text of a member that must be a string or null/absent (null -> "").
std::string text_of(const json& m, const char* key, std::size_t index) {
    const auto it = m.find(key);
    if (it == m.end() || it->is_null()) {
        return {};
    }
    if (!it->is_string()) {
        throw ChatFormatError(where(index) + ": '" + key + "' must be a string, not " +
                              it->type_name());
    }
    return it->get<std::string>();
}

std::string render_tools(const json& tools, std::size_t index) {
    if (!tools.is_array()) {
        throw ChatFormatError(where(index) + ": 'tools' must be an array");
    }
    std::string out(kToolsHead);
    bool first = true;
    for (const auto& tool : tools) {
        if (!tool.is_object() || !tool.contains("function")) {
            throw ChatFormatError(where(index) + ": each tool needs a 'function' object");
        }
        if (!first) {
            out += '\n';
        }
        first = false;
        python_json_dump(tool.at("function"), out);
    }
    out += kToolsTail;
    return out;
}

void append_extras(const json& m, std::size_t index, std::string& out) {
    if (truthy(m, "tools")) {
        out += "\n\n";
        out += render_tools(m.at("tools"), index);
    }
    if (truthy(m, "response_format")) {
        out += "\n\n";
        out += kResponseFormatHead;
        python_json_dump(m.at("response_format"), out);
    }
}

std::string render_arguments(const json& call) {
    const json& arguments = call.at("function").contains("arguments")
                                ? call.at("function").at("arguments")
                                : json(nullptr);
    json parsed;
    bool ok = false;
    if (arguments.is_string()) {
        parsed = json::parse(arguments.get<std::string>(), nullptr, false);
        ok = !parsed.is_discarded() && parsed.is_object();
    }
    if (!ok) {
        // Not a JSON object: one parameter named "arguments" holding the value as given.
        parsed = json::object({{"arguments", arguments}});
    }
    std::string out;
    bool first = true;
    for (const auto& [key, value] : parsed.items()) {
        if (!first) {
            out += '\n';
        }
        first = false;
        out += "<｜DSML｜parameter name=\"";
        out += key;
        if (value.is_string()) {
            out += "\" string=\"true\">";
            out += value.get<std::string>();
        } else {
            out += "\" string=\"false\">";
            python_json_dump(value, out);
        }
        out += "</｜DSML｜parameter>";
    }
    return out;
}

// Step 1 of encode_messages: OpenAI `tool` messages become tool_result blocks of user turns;
// consecutive user/tool messages share one turn.
json merge_tool_messages(const json& messages) {
    json merged = json::array();
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        if (!m.is_object()) {
            throw ChatFormatError(where(i) + " is not an object");
        }
        const std::string role = role_of(m);
        const bool last_is_open_user = !merged.empty() && role_of(merged.back()) == "user" &&
                                       merged.back().contains("content_blocks");
        if (role == "tool") {
            json block = {{"type", "tool_result"},
                          {"tool_use_id", m.value("tool_call_id", json(""))},
                          {"content", m.value("content", json(""))}};
            if (last_is_open_user) {
                merged.back()["content_blocks"].push_back(std::move(block));
            } else {
                merged.push_back({{"role", "user"}, {"content_blocks", json::array({block})}});
            }
        } else if (role == "user") {
            json block = {{"type", "text"}, {"text", m.value("content", json(""))}};
            if (last_is_open_user && !has_non_null(merged.back(), "task")) {
                merged.back()["content_blocks"].push_back(std::move(block));
            } else {
                json copy = {{"role", "user"},
                             {"content", m.value("content", json(""))},
                             {"content_blocks", json::array({block})}};
                for (const char* key : {"task", "wo_eos", "mask"}) {
                    if (m.contains(key)) {
                        copy[key] = m.at(key);
                    }
                }
                merged.push_back(std::move(copy));
            }
        } else {
            merged.push_back(m);
        }
    }
    return merged;
}

std::string call_id(const json& call) {
    if (call.contains("id") && call.at("id").is_string() &&
        !call.at("id").get<std::string>().empty()) {
        return call.at("id").get<std::string>();
    }
    if (call.contains("function") && call.at("function").is_object()) {
        const auto& f = call.at("function");
        if (f.contains("id") && f.at("id").is_string()) {
            return f.at("id").get<std::string>();
        }
    }
    return {};
}

// Step 2: tool results in a user turn follow the order of the calls of the last assistant turn.
void sort_tool_results(json& messages) {
    std::map<std::string, std::size_t> order;
    for (auto& m : messages) {
        const std::string role = role_of(m);
        if (role == "assistant" && truthy(m, "tool_calls")) {
            order.clear();
            std::size_t index = 0;
            for (const auto& call : m.at("tool_calls")) {
                const std::string id = call_id(call);
                if (!id.empty()) {
                    order[id] = index;
                }
                ++index;
            }
        } else if (role == "user" && truthy(m, "content_blocks")) {
            auto& blocks = m.at("content_blocks");
            std::vector<json> results;
            for (const auto& b : blocks) {
                if (b.value("type", "") == "tool_result") {
                    results.push_back(b);
                }
            }
            if (results.size() > 1 && !order.empty()) {
                const auto rank = [&](const json& b) {
                    const auto it = b.find("tool_use_id");
                    if (it == b.end() || !it->is_string()) {
                        return std::size_t{0};
                    }
                    const auto found = order.find(it->get<std::string>());
                    return found == order.end() ? std::size_t{0} : found->second;
                };
                std::stable_sort(results.begin(), results.end(),
                                 [&](const json& a, const json& b) { return rank(a) < rank(b); });
                std::size_t next = 0;
                for (auto& b : blocks) {
                    if (b.value("type", "") == "tool_result") {
                        b = results[next++];
                    }
                }
            }
        }
    }
}

std::ptrdiff_t last_user_index(const json& messages) {
    for (std::size_t i = messages.size(); i-- > 0;) {
        const std::string role = role_of(messages[i]);
        if (role == "user" || role == "developer") {
            return static_cast<std::ptrdiff_t>(i);
        }
    }
    return -1;
}

// Reasoning of assistant turns before the last user turn is removed; developer messages there are
// dropped entirely.
json drop_thinking_messages(const json& messages) {
    const std::ptrdiff_t last_user = last_user_index(messages);
    json result = json::array();
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        const std::string role = role_of(m);
        if (role == "user" || role == "system" || role == "tool" || role == "latest_reminder" ||
            role == "direct_search_results" || static_cast<std::ptrdiff_t>(i) >= last_user) {
            result.push_back(m);
        } else if (role == "assistant") {
            json copy = m;
            copy.erase("reasoning_content");
            result.push_back(std::move(copy));
        }
    }
    return result;
}

std::string tool_result_text(const json& content, std::size_t index) {
    if (content.is_null()) {
        return {};
    }
    if (content.is_string()) {
        return content.get<std::string>();
    }
    if (content.is_array()) {
        std::string out;
        bool first = true;
        for (const auto& part : content) {
            if (!first) {
                out += "\n\n";
            }
            first = false;
            if (part.is_object() && part.value("type", "") == "text") {
                out += text_of(part, "text", index);
            } else {
                out += "[Unsupported " +
                       (part.is_object() && part.contains("type") && part.at("type").is_string()
                            ? part.at("type").get<std::string>()
                            : std::string("None")) +
                       "]";
            }
        }
        return out;
    }
    throw ChatFormatError(where(index) + ": tool result content must be a string or a list");
}

std::string render_message(std::size_t index, const json& messages, const ChatOptions& options,
                           bool drop_thinking) {
    const json& m = messages[index];
    const std::ptrdiff_t last_user = last_user_index(messages);
    const std::string role = role_of(m);
    const bool thinking = options.mode == ThinkingMode::thinking;
    std::string out;
    if (index == 0 && thinking && options.effort == ReasoningEffort::max) {
        out += kReasoningEffortMax;
    }
    if (role == "system") {
        out += text_of(m, "content", index);
        append_extras(m, index, out);
    } else if (role == "developer") {
        const std::string content = text_of(m, "content", index);
        if (content.empty()) {
            throw ChatFormatError(where(index) + ": a developer message needs non-empty 'content'");
        }
        out += tk::kUser;
        out += content;
        append_extras(m, index, out);
    } else if (role == "user") {
        out += tk::kUser;
        if (truthy(m, "content_blocks")) {
            bool first = true;
            for (const auto& block : m.at("content_blocks")) {
                if (!first) {
                    out += "\n\n";
                }
                first = false;
                const std::string type = block.value("type", "");
                if (type == "text") {
                    out += text_of(block, "text", index);
                } else if (type == "tool_result") {
                    out += "<tool_result>";
                    out += tool_result_text(block.value("content", json("")), index);
                    out += "</tool_result>";
                } else {
                    out += "[Unsupported " + type + "]";
                }
            }
        } else {
            out += text_of(m, "content", index);
        }
    } else if (role == "latest_reminder") {
        if (!m.contains("content") || !m.at("content").is_string()) {
            throw ChatFormatError(where(index) +
                                  ": a latest_reminder message needs string 'content'");
        }
        out += tk::kLatestReminder;
        out += m.at("content").get<std::string>();
    } else if (role == "assistant") {
        std::string calls;
        if (truthy(m, "tool_calls")) {
            calls = render_tool_calls(m.at("tool_calls"));
        }
        const bool prev_has_task = index > 0 && has_non_null(messages[index - 1], "task");
        std::string reasoning;
        if (thinking && !prev_has_task &&
            (!drop_thinking || static_cast<std::ptrdiff_t>(index) > last_user)) {
            reasoning = text_of(m, "reasoning_content", index);
            reasoning += tk::kThinkEnd;
        }
        out += reasoning;
        out += text_of(m, "content", index);
        out += calls;
        if (!truthy(m, "wo_eos")) {
            out += tk::kEos;
        }
    } else if (role.empty()) {
        throw ChatFormatError(where(index) + " has no string 'role'");
    } else {
        throw ChatFormatError(where(index) + ": unknown role '" + role +
                              "' (system, user, assistant, tool, developer, latest_reminder)");
    }

    if (index + 1 < messages.size()) {
        const std::string next = role_of(messages[index + 1]);
        if (next != "assistant" && next != "latest_reminder") {
            return out;
        }
    }
    if (has_non_null(m, "task")) {
        const auto& task = m.at("task");
        const auto it =
            task.is_string() ? task_tokens().find(task.get<std::string>()) : task_tokens().end();
        if (it == task_tokens().end()) {
            throw ChatFormatError(where(index) + ": unknown task " + task.dump() +
                                  " (action, query, authority, domain, title, read_url)");
        }
        if (it->first != "action") {
            out += it->second;
        } else {
            out += tk::kAssistant;
            out += thinking ? tk::kThinkStart : tk::kThinkEnd;
            out += it->second;
        }
    } else if (role == "user" || role == "developer") {
        out += tk::kAssistant;
        if (thinking && (!drop_thinking || static_cast<std::ptrdiff_t>(index) >= last_user)) {
            out += tk::kThinkStart;
        } else {
            out += tk::kThinkEnd;
        }
    }
    return out;
}

bool any_tools(const json& messages) {
    return std::any_of(messages.begin(), messages.end(),
                       [](const json& m) { return m.is_object() && truthy(m, "tools"); });
}

std::string encode(const json& messages_in, const json& context_in, const ChatOptions& options) {
    if (!messages_in.is_array() || !context_in.is_array()) {
        throw ChatFormatError("messages must be a JSON array of message objects");
    }
    json messages = merge_tool_messages(messages_in);
    json context = merge_tool_messages(context_in);
    {
        // Tool results are ordered against calls in the context too.
        json joined = context;
        for (const auto& m : messages) {
            joined.push_back(m);
        }
        sort_tool_results(joined);
        messages = json::array();
        for (std::size_t i = context.size(); i < joined.size(); ++i) {
            messages.push_back(joined[i]);
        }
    }
    sort_tool_results(context);
    json full = context;
    for (const auto& m : messages) {
        full.push_back(m);
    }
    std::string prompt;
    if (options.add_bos && context.empty()) {
        prompt += tk::kBos;
    }
    const bool drop = options.drop_thinking && !any_tools(full);
    std::size_t to_render = messages.size();
    std::size_t context_len = context.size();
    if (options.mode == ThinkingMode::thinking && drop) {
        full = drop_thinking_messages(full);
        to_render = full.size() - drop_thinking_messages(context).size();
        context_len = full.size() - to_render;
    }
    for (std::size_t i = 0; i < to_render; ++i) {
        prompt += render_message(context_len + i, full, options, drop);
    }
    return prompt;
}

}  // namespace

std::string render_tool_calls(const json& tool_calls) {
    if (!tool_calls.is_array()) {
        throw ChatFormatError("'tool_calls' must be an array");
    }
    std::string out = "\n\n<｜DSML｜tool_calls>\n";
    bool first = true;
    for (const auto& call : tool_calls) {
        if (!call.is_object() || !call.contains("function") || !call.at("function").is_object()) {
            throw ChatFormatError("each tool call needs a 'function' object");
        }
        const auto& f = call.at("function");
        if (!f.contains("name") || !f.at("name").is_string()) {
            throw ChatFormatError("each tool call needs a string 'function.name'");
        }
        if (!first) {
            out += '\n';
        }
        first = false;
        out += "<｜DSML｜invoke name=\"";
        out += f.at("name").get<std::string>();
        out += "\">\n";
        out += render_arguments(call);
        out += "\n</｜DSML｜invoke>";
    }
    out += "\n</｜DSML｜tool_calls>";
    return out;
}

std::string render_chat(const json& messages, const ChatOptions& options) {
    return encode(messages, json::array(), options);
}

std::string render_chat_suffix(const json& context, const json& tail, const ChatOptions& options) {
    return encode(tail, context, options);
}

json messages_from_request(const json& request) {
    if (request.is_array()) {
        return request;
    }
    if (!request.is_object() || !request.contains("messages") ||
        !request.at("messages").is_array()) {
        throw ChatFormatError(
            "expected a JSON list of messages or an object {\"messages\": [...], \"tools\": "
            "[...]}");
    }
    json messages = request.at("messages");
    if (request.contains("tools") && !request.at("tools").is_null()) {
        if (!request.at("tools").is_array()) {
            throw ChatFormatError("'tools' must be an array");
        }
        const std::string first = messages.empty() ? "" : role_of(messages[0]);
        if (first == "system" || first == "developer") {
            messages[0]["tools"] = request.at("tools");
        } else {
            json system = {{"role", "system"}, {"content", ""}, {"tools", request.at("tools")}};
            messages.insert(messages.begin(), std::move(system));
        }
    }
    return messages;
}

}  // namespace osprey::model
