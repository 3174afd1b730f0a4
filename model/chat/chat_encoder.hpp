#pragma once
// The DeepSeek-V4 chat encoder (spec §12): renders an OpenAI-style conversation (system/user/
// assistant/tool/developer/latest_reminder messages, tools, tool_calls, reasoning_content,
// response_format, task tokens) into the exact prompt text of DeepSeek's encoding_dsv4.py, in the
// chat, think-high and think-max modes, with its drop-thinking rules. Also renders incrementally:
// the text to append after a conversation that was already rendered.

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace osprey::model {

enum class ThinkingMode { chat, thinking };
enum class ReasoningEffort { none, high, max };

struct ChatOptions {
    ThinkingMode mode = ThinkingMode::chat;
    ReasoningEffort effort = ReasoningEffort::none;  // only max changes the prompt
    bool drop_thinking = true;  // ignored (treated as false) when any message carries tools
    bool add_bos = true;        // BOS only when nothing was rendered before
};

// A conversation the encoder cannot render: names the message index and key at fault.
class ChatFormatError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

namespace chat_tokens {
inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kLatestReminder = "<｜latest_reminder｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";
inline constexpr std::string_view kDsml = "｜DSML｜";
}  // namespace chat_tokens

// The full prompt for `messages` (a JSON array of message objects).
std::string render_chat(const nlohmann::ordered_json& messages, const ChatOptions& options);

// The text to append to render_chat(context) so the model sees `context` followed by `tail`:
// DeepSeek's encode_messages(tail, context=context). When tools are present (so no earlier
// thinking is dropped) and `tail` does not start by merging into the context's last turn (a tool
// result or user message right after a user/tool turn), render_chat(context) + suffix ==
// render_chat(context + tail).
std::string render_chat_suffix(const nlohmann::ordered_json& context,
                               const nlohmann::ordered_json& tail, const ChatOptions& options);

// The DSML text of one assistant tool-call list (OpenAI `tool_calls`), starting with "\n\n".
std::string render_tool_calls(const nlohmann::ordered_json& tool_calls);

// `{"messages": [...], "tools": [...]}` or a plain message list -> the message list, with `tools`
// attached to the first message when it is a system/developer message, otherwise to a new empty
// system message put first (as DeepSeek's test case 1 attaches them). Throws ChatFormatError.
nlohmann::ordered_json messages_from_request(const nlohmann::ordered_json& request);

}  // namespace osprey::model
