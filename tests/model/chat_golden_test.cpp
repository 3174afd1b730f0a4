// The chat encoder against DeepSeek's official encoder output (../shared/golden/chat): every render
// case and the four official test cases byte for byte.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "model/chat/chat_encoder.hpp"
#include "model/chat/output_parser.hpp"
#include "model/tokenizer/tokenizer.hpp"

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

namespace {

using osprey::model::OutputParser;
using osprey::model::ParseEvent;
using osprey::model::ParseEventKind;

const osprey::model::Tokenizer& test_tokenizer() {
    static const auto tok =
        osprey::model::Tokenizer::load(std::string(OSPREY_DEPS_DIR) + "/tokenizer");
    return tok;
}

// Adjacent deltas of one kind joined: the event stream independent of how the text was split.
std::vector<ParseEvent> coalesce(const std::vector<ParseEvent>& events) {
    std::vector<ParseEvent> out;
    for (const auto& e : events) {
        const bool delta = e.kind == ParseEventKind::reasoning_delta ||
                           e.kind == ParseEventKind::text_delta ||
                           e.kind == ParseEventKind::parameter_value_delta;
        if (delta && !out.empty() && out.back().kind == e.kind &&
            out.back().tool_index == e.tool_index) {
            out.back().text += e.text;
            continue;
        }
        out.push_back(e);
        if (delta) {
            out.back().offset = 0;  // where a delta starts depends on the split
        }
    }
    return out;
}

std::vector<ParseEvent> parse_in_pieces(const std::vector<std::string>& pieces, ThinkingMode mode,
                                        osprey::model::ParsedMessage& message) {
    OutputParser parser(mode);
    std::vector<ParseEvent> events;
    for (const auto& p : pieces) {
        const auto e = parser.feed(p);
        events.insert(events.end(), e.begin(), e.end());
    }
    const auto e = parser.finish();
    events.insert(events.end(), e.begin(), e.end());
    message = parser.message();
    return coalesce(events);
}

void check_same_message(const nlohmann::json& got, const nlohmann::json& expected) {
    CHECK(got.at("role") == expected.at("role"));
    CHECK(got.at("content") == expected.at("content"));
    CHECK(got.at("reasoning_content") == expected.at("reasoning_content"));
    REQUIRE(got.at("tool_calls").size() == expected.at("tool_calls").size());
    for (std::size_t i = 0; i < got.at("tool_calls").size(); ++i) {
        const auto& g = got.at("tool_calls")[i];
        const auto& x = expected.at("tool_calls")[i];
        CHECK(g.at("type") == x.at("type"));
        CHECK(g.at("function").at("name") == x.at("function").at("name"));
        // Arguments compared as JSON.
        CHECK(nlohmann::json::parse(g.at("function").at("arguments").get<std::string>()) ==
              nlohmann::json::parse(x.at("function").at("arguments").get<std::string>()));
    }
}

}  // namespace

TEST_CASE("every golden parse case parses to the official parser's message") {
    const auto cases = nlohmann::json::parse(slurp(kChat + "parse_cases.json"));
    REQUIRE(cases.size() >= 100);
    std::size_t index = 0;
    for (const auto& c : cases) {
        INFO("parse case " << index++ << ": " << c.at("completion").dump().substr(0, 200));
        const auto mode =
            c.at("thinking_mode") == "thinking" ? ThinkingMode::thinking : ThinkingMode::chat;
        const auto message =
            osprey::model::parse_completion(c.at("completion").get<std::string>(), mode);
        INFO(message.error.value_or("no error"));
        REQUIRE_FALSE(message.error);
        CHECK(message.complete);
        check_same_message(nlohmann::json::parse(osprey::model::message_to_json(message).dump()),
                           c.at("expected"));
    }
}

TEST_CASE("the streaming parser fed token by token yields the whole-text result") {
    const auto cases = nlohmann::json::parse(slurp(kChat + "parse_cases.json"));
    const auto& tok = test_tokenizer();
    for (const auto& c : cases) {
        const auto text = c.at("completion").get<std::string>();
        INFO(nlohmann::json(text).dump().substr(0, 200));
        const auto mode =
            c.at("thinking_mode") == "thinking" ? ThinkingMode::thinking : ThinkingMode::chat;
        osprey::model::ParsedMessage whole_message;
        const auto whole = parse_in_pieces({text}, mode, whole_message);

        // Token by token, through the streaming decoder, as generation delivers it.
        std::vector<std::string> tokens;
        osprey::model::StreamDecoder decoder(tok);
        for (const auto id : tok.encode(text)) {
            tokens.push_back(decoder.push(id));
        }
        tokens.push_back(decoder.finish());
        osprey::model::ParsedMessage token_message;
        const auto by_token = parse_in_pieces(tokens, mode, token_message);
        REQUIRE(by_token == whole);
        CHECK(message_to_json(token_message) == message_to_json(whole_message));
        CHECK(token_message.tool_calls_raw == whole_message.tool_calls_raw);

        // Byte by byte: the hardest split.
        std::vector<std::string> bytes;
        for (const char ch : text) {
            bytes.emplace_back(1, ch);
        }
        osprey::model::ParsedMessage byte_message;
        REQUIRE(parse_in_pieces(bytes, mode, byte_message) == whole);
        CHECK(message_to_json(byte_message) == message_to_json(whole_message));

        // The raw bytes of each tool call are exactly what was generated.
        for (const auto& call : whole_message.tool_calls) {
            CHECK(text.find(call.raw) != std::string::npos);
            CHECK(call.raw.rfind("<｜DSML｜invoke name=\"", 0) == 0);
            CHECK(call.raw.ends_with("</｜DSML｜invoke>"));
        }
    }
}

TEST_CASE("rendered tool calls parse back to the same calls (render/parse round trip)") {
    const auto cases = ordered_json::parse(slurp(kChat + "render_cases.json"));
    std::size_t checked = 0;
    for (const auto& c : cases) {
        for (const auto& m : c.at("messages")) {
            if (m.at("role") != "assistant" || !m.contains("tool_calls") ||
                m.at("tool_calls").empty()) {
                continue;
            }
            const std::string text = std::string(m.value("content", "")) +
                                     osprey::model::render_tool_calls(m.at("tool_calls")) +
                                     "<｜end▁of▁sentence｜>";
            const auto parsed = osprey::model::parse_completion(text, ThinkingMode::chat);
            INFO(text);
            REQUIRE_FALSE(parsed.error);
            REQUIRE(parsed.tool_calls.size() == m.at("tool_calls").size());
            for (std::size_t i = 0; i < parsed.tool_calls.size(); ++i) {
                const auto& f = m.at("tool_calls")[i].at("function");
                CHECK(parsed.tool_calls[i].name == f.at("name").get<std::string>());
                CHECK(nlohmann::json::parse(parsed.tool_calls[i].arguments) ==
                      nlohmann::json::parse(f.at("arguments").get<std::string>()));
            }
            CHECK(parsed.tool_calls_raw == osprey::model::render_tool_calls(m.at("tool_calls")));
            ++checked;
        }
    }
    CHECK(checked > 10);
}
