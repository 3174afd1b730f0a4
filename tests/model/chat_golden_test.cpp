// The chat encoder against DeepSeek's official encoder output (../shared/golden/chat): every render
// case and the four official test cases byte for byte.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "model/chat/chat_encoder.hpp"

using nlohmann::ordered_json;
using osprey::model::ChatOptions;
using osprey::model::ReasoningEffort;
using osprey::model::ThinkingMode;

namespace {

const std::string kChat = std::string(OSPREY_SHARED_DIR) + "/golden/chat/";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    INFO(path);
    REQUIRE(in.good());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

ChatOptions options_of(const ordered_json& c) {
    ChatOptions o;
    o.mode = c.at("thinking_mode") == "thinking" ? ThinkingMode::thinking : ThinkingMode::chat;
    const auto& effort = c.at("reasoning_effort");
    o.effort = effort.is_null()  ? ReasoningEffort::none
               : effort == "max" ? ReasoningEffort::max
                                 : ReasoningEffort::high;
    o.drop_thinking = c.at("drop_thinking").get<bool>();
    return o;
}

}  // namespace

TEST_CASE("every golden render case renders byte-identically") {
    const auto cases = ordered_json::parse(slurp(kChat + "render_cases.json"));
    REQUIRE(cases.size() >= 60);
    std::size_t index = 0;
    for (const auto& c : cases) {
        INFO("render case " << index++);
        CHECK(osprey::model::render_chat(c.at("messages"), options_of(c)) ==
              c.at("expected_prompt").get<std::string>());
    }
}

TEST_CASE("DeepSeek's four official cases render byte-identically") {
    for (int n = 1; n <= 4; ++n) {
        INFO("official case " << n);
        const auto input = ordered_json::parse(
            slurp(kChat + "official/test_input_" + std::to_string(n) + ".json"));
        const std::string expected =
            slurp(kChat + "official/test_output_" + std::to_string(n) + ".txt");
        ChatOptions o;
        o.mode = n == 4 ? ThinkingMode::chat : ThinkingMode::thinking;
        CHECK(osprey::model::render_chat(osprey::model::messages_from_request(input), o) ==
              expected);
    }
}

TEST_CASE(
    "incremental rendering: prefix + suffix == full render for every cut of tool conversations") {
    const auto cases = ordered_json::parse(slurp(kChat + "render_cases.json"));
    std::size_t checked = 0;
    for (const auto& c : cases) {
        const auto& messages = c.at("messages");
        bool tools = false;
        for (const auto& m : messages) {
            tools = tools || (m.contains("tools") && !m.at("tools").empty());
        }
        if (!tools) {
            continue;
        }
        const ChatOptions o = options_of(c);
        const std::string full = osprey::model::render_chat(messages, o);
        for (std::size_t cut = 1; cut < messages.size(); ++cut) {
            const std::string before = messages[cut - 1].at("role");
            const std::string after = messages[cut].at("role");
            // A tool result or user message right after a user/tool turn merges into that turn:
            // the earlier render was not a prefix of the new one (the agent never cuts there).
            const bool merges =
                (before == "user" || before == "tool") && (after == "user" || after == "tool");
            if (merges) {
                continue;
            }
            ordered_json context = ordered_json::array();
            ordered_json tail = ordered_json::array();
            for (std::size_t i = 0; i < messages.size(); ++i) {
                (i < cut ? context : tail).push_back(messages[i]);
            }
            INFO("cut " << cut << " of " << messages.dump().substr(0, 200));
            const std::string prefix = osprey::model::render_chat(context, o);
            const std::string suffix = osprey::model::render_chat_suffix(context, tail, o);
            REQUIRE(prefix + suffix == full);
            ++checked;
        }
    }
    CHECK(checked > 50);
}
