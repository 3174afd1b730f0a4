// Chat encoder rules of spec §12 on small hand-written conversations (hermetic; the byte-exact
// comparison with the official encoder is in chat_golden_test.cpp).
#include <catch2/catch.hpp>

#include "model/chat/chat_encoder.hpp"

using nlohmann::ordered_json;
using osprey::model::ChatFormatError;
using osprey::model::ChatOptions;
using osprey::model::ReasoningEffort;
using osprey::model::render_chat;
using osprey::model::ThinkingMode;

namespace {

ChatOptions thinking() {
    ChatOptions o;
    o.mode = ThinkingMode::thinking;
    return o;
}

}  // namespace

TEST_CASE("the spec's rendered examples (§12.7)") {
    const auto sys_user = ordered_json::parse(
        R"([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}])");
    CHECK(render_chat(sys_user, ChatOptions{}) ==
          "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi<｜Assistant｜></think>");
    CHECK(render_chat(sys_user, thinking()) ==
          "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi<｜Assistant｜><think>");
    auto max = thinking();
    max.effort = ReasoningEffort::max;
    const auto rendered = render_chat(sys_user, max);
    CHECK(rendered.rfind("<｜begin▁of▁sentence｜>Reasoning Effort: Absolute maximum", 0) == 0);
    CHECK(rendered.ends_with("unchecked.\n\nYou are terse.<｜User｜>Hi<｜Assistant｜><think>"));

    const auto multi = ordered_json::parse(R"([
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1", "reasoning_content": "r1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2", "reasoning_content": "r2"}])");
    CHECK(render_chat(multi, thinking()) ==
          "<｜begin▁of▁sentence｜><｜User｜>q1<｜Assistant｜></"
          "think>a1<｜end▁of▁sentence｜><｜User｜>q2"
          "<｜Assistant｜><think>r2</think>a2<｜end▁of▁sentence｜>");
    auto keep = thinking();
    keep.drop_thinking = false;
    CHECK(render_chat(multi, keep).find("<｜User｜>q1<｜Assistant｜><think>r1</think>a1") !=
          std::string::npos);
}

TEST_CASE("tool calls, results in call order, and the tool loop (§12.5)") {
    const auto conv = ordered_json::parse(R"([
        {"role": "system", "content": "S", "tools": [{"type": "function", "function": {"name": "add",
            "description": "Add", "parameters": {"type": "object"}}}]},
        {"role": "user", "content": "1+2?"},
        {"role": "assistant", "content": "", "reasoning_content": "use tool", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "add", "arguments": "{\"a\": 1, \"s\": \"x\"}"}},
            {"id": "b", "type": "function", "function": {"name": "add", "arguments": "not json"}}]},
        {"role": "tool", "tool_call_id": "b", "content": "B"},
        {"role": "tool", "tool_call_id": "a", "content": "A"}])");
    const std::string out = render_chat(conv, thinking());
    CHECK(out.find("\n\n## Tools\n\nYou have access") != std::string::npos);
    CHECK(out.find(R"({"name": "add", "description": "Add", "parameters": {"type": "object"}})") !=
          std::string::npos);
    CHECK(out.find(
              "<｜Assistant｜><think>use tool</think>\n\n<｜DSML｜tool_calls>\n"
              "<｜DSML｜invoke name=\"add\">\n"
              "<｜DSML｜parameter name=\"a\" string=\"false\">1</｜DSML｜parameter>\n"
              "<｜DSML｜parameter name=\"s\" string=\"true\">x</｜DSML｜parameter>\n"
              "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"add\">\n"
              "<｜DSML｜parameter name=\"arguments\" string=\"true\">not json</｜DSML｜parameter>\n"
              "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>") !=
          std::string::npos);
    // Results ordered as the calls were, in one user turn, then the transition (tools keep
    // thinking).
    CHECK(
        out.ends_with("<｜User｜><tool_result>A</tool_result>\n\n<tool_result>B</tool_result>"
                      "<｜Assistant｜><think>"));
}

TEST_CASE("task tokens, latest_reminder, wo_eos, developer") {
    const auto action = ordered_json::parse(R"([
        {"role": "latest_reminder", "content": "R"},
        {"role": "user", "content": "do", "task": "action"},
        {"role": "assistant", "content": "x", "reasoning_content": "hidden"}])");
    CHECK(render_chat(action, thinking()) ==
          "<｜begin▁of▁sentence｜><｜latest_reminder｜>R<｜User｜>do<｜Assistant｜><think><"
          "｜action｜>"
          "x<｜end▁of▁sentence｜>");
    const auto query =
        ordered_json::parse(R"([{"role": "user", "content": "q", "task": "query"}])");
    CHECK(render_chat(query, ChatOptions{}) == "<｜begin▁of▁sentence｜><｜User｜>q<｜query｜>");
    const auto partial = ordered_json::parse(
        R"([{"role": "user", "content": "q"}, {"role": "assistant", "content": "pre", "wo_eos": true}])");
    CHECK(render_chat(partial, ChatOptions{}) ==
          "<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜></think>pre");
    const auto dev = ordered_json::parse(R"([{"role": "developer", "content": "D"}])");
    CHECK(render_chat(dev, thinking()) ==
          "<｜begin▁of▁sentence｜><｜User｜>D<｜Assistant｜><think>");
}

TEST_CASE("bad conversations throw ChatFormatError naming the message") {
    CHECK_THROWS_AS(render_chat(ordered_json::parse(R"({"x": 1})"), ChatOptions{}),
                    ChatFormatError);
    CHECK_THROWS_WITH(render_chat(ordered_json::parse(R"([{"role": "robot"}])"), ChatOptions{}),
                      Catch::Contains("message 0: unknown role 'robot'"));
    CHECK_THROWS_WITH(
        render_chat(ordered_json::parse(R"([{"role": "user", "content": 5}])"), ChatOptions{}),
        Catch::Contains("'text' must be a string"));
    CHECK_THROWS_WITH(render_chat(ordered_json::parse(R"([{"role": "developer", "content": ""}])"),
                                  ChatOptions{}),
                      Catch::Contains("non-empty 'content'"));
    CHECK_THROWS_WITH(
        render_chat(ordered_json::parse(R"([{"role": "user", "content": "x", "task": "fly"}])"),
                    ChatOptions{}),
        Catch::Contains("unknown task"));
    std::string deep(2000, '[');
    deep += std::string(2000, ']');
    const auto nested = ordered_json::parse(
        R"([{"role": "system", "content": "", "response_format": )" + deep + "}]");
    CHECK_THROWS_AS(render_chat(nested, ChatOptions{}), ChatFormatError);
}

TEST_CASE("messages_from_request attaches tools to the first system message") {
    const auto req = ordered_json::parse(
        R"({"tools": [{"type": "function", "function": {"name": "f"}}], "messages": [{"role": "user", "content": "u"}]})");
    const auto messages = osprey::model::messages_from_request(req);
    REQUIRE(messages.size() == 2);
    CHECK(messages[0].at("role") == "system");
    CHECK(messages[0].at("tools").size() == 1);
}

TEST_CASE("a null tool result renders as the official encoder renders it") {
    const auto conv =
        ordered_json::parse(R"([{"role": "tool", "tool_call_id": "x", "content": null}])");
    CHECK(
        render_chat(conv, ChatOptions{}) ==
        "<｜begin▁of▁sentence｜><｜User｜><tool_result>None</tool_result><｜Assistant｜></think>");
}
