// Unit tests of the streaming output parser's error handling and region query, and of the
// Python-style JSON writer the encoder relies on. Hermetic: no tokenizer, no golden files.
#include <catch2/catch.hpp>

#include "model/chat/output_parser.hpp"
#include "model/chat/python_json.hpp"

using osprey::model::OutputParser;
using osprey::model::OutputRegion;
using osprey::model::parse_completion;
using osprey::model::ParseEventKind;
using osprey::model::ThinkingMode;

namespace {

const std::string kEos = "<｜end▁of▁sentence｜>";

std::string call_block(const std::string& params) {
    return "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n" + params +
           "\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
}

std::string error_of(const std::string& text, ThinkingMode mode = ThinkingMode::chat) {
    const auto m = parse_completion(text, mode);
    return m.error.value_or("");
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("python_json_dumps writes what Python's json.dumps writes") {
    using osprey::model::python_json_dumps;
    using J = nlohmann::ordered_json;
    CHECK(python_json_dumps(J::parse(R"({"b": 1, "a": [true, null, "x"]})")) ==
          R"({"b": 1, "a": [true, null, "x"]})");
    CHECK(python_json_dumps(J(1.0)) == "1.0");
    CHECK(python_json_dumps(J(0.5)) == "0.5");
    CHECK(python_json_dumps(J(1e-05)) == "1e-05");
    CHECK(python_json_dumps(J(0.0001)) == "0.0001");
    CHECK(python_json_dumps(J(1e16)) == "1e+16");
    CHECK(python_json_dumps(J(1e15)) == "1000000000000000.0");
    CHECK(python_json_dumps(J(-2.5e-7)) == "-2.5e-07");
    CHECK(python_json_dumps(J(123.456)) == "123.456");
    CHECK(python_json_dumps(J(-0.0)) == "-0.0");
    CHECK(python_json_dumps(J("é\n\"\\\t\x01\x7f")) == "\"é\\n\\\"\\\\\\t\\u0001\x7f\"");
}

TEST_CASE("well-formed output gives typed events in order") {
    OutputParser p(ThinkingMode::thinking);
    std::vector<osprey::model::ParseEvent> events;
    const std::string text =
        "think</think>Hi" +
        call_block(
            "<｜DSML｜parameter name=\"a\" string=\"true\">x</｜DSML｜parameter>\n"
            "<｜DSML｜parameter name=\"b\" string=\"false\">[1, 2]</｜DSML｜parameter>") +
        kEos;
    for (const char c : text) {
        for (auto& e : p.feed(std::string(1, c))) {
            events.push_back(std::move(e));
        }
    }
    for (auto& e : p.finish()) {
        events.push_back(std::move(e));
    }
    std::vector<ParseEventKind> kinds;
    for (const auto& e : events) {
        if (kinds.empty() || kinds.back() != e.kind || e.kind == ParseEventKind::parameter_begin ||
            e.kind == ParseEventKind::parameter_end) {
            kinds.push_back(e.kind);
        }
    }
    using K = ParseEventKind;
    CHECK(kinds == std::vector<K>{K::reasoning_delta, K::text_delta, K::tool_call_begin,
                                  K::parameter_begin, K::parameter_value_delta, K::parameter_end,
                                  K::parameter_begin, K::parameter_value_delta, K::parameter_end,
                                  K::tool_call_end, K::end_of_turn});
    const auto& m = p.message();
    CHECK(m.reasoning_content == "think");
    CHECK(m.content == "Hi");
    REQUIRE(m.tool_calls.size() == 1);
    CHECK(m.tool_calls[0].arguments == R"({"a": "x", "b": [1, 2]})");
    CHECK(m.complete);
    CHECK_FALSE(m.error);
}

TEST_CASE("malformed DSML becomes one precise error event, never an exception") {
    const std::string p1 = "<｜DSML｜parameter name=\"a\" string=\"true\">x</｜DSML｜parameter>";
    SECTION("unknown structure") {
        const auto e = error_of("\n\n<｜DSML｜tool_calls>\n<｜DSML｜call name=\"f\">\n" + kEos);
        CHECK(contains(e, "expected '>\\n' then '<｜DSML｜invoke'"));
    }
    SECTION("bad tool name part") {
        CHECK(contains(error_of("\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke "
                                "nam=\"f\">\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" +
                                kEos),
                       "expected ' name=\"TOOL\">\\n'"));
    }
    SECTION("unterminated parameter") {
        const auto e = error_of(
            "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
            "<｜DSML｜parameter name=\"a\" string=\"true\">abc" +
            kEos);
        CHECK(contains(e, "<｜end▁of▁sentence｜> inside parameter 'a'"));
    }
    SECTION("duplicate parameter") {
        CHECK(contains(error_of(call_block(p1 + "\n" + p1) + kEos),
                       "duplicate parameter 'a' in tool call 'f'"));
    }
    SECTION("invalid JSON in a string=\"false\" value") {
        const auto e = error_of(
            call_block("<｜DSML｜parameter name=\"n\" string=\"false\">{oops</｜DSML｜parameter>") +
            kEos);
        CHECK(contains(
            e,
            "parameter 'n' of tool call 'f' has string=\"false\" but its value is not valid JSON"));
    }
    SECTION("text after the block") {
        CHECK(contains(error_of(call_block(p1) + "more" + kEos),
                       "only <｜end▁of▁sentence｜> may follow '</｜DSML｜tool_calls>'"));
    }
    SECTION("EOS inside a block") {
        CHECK(contains(error_of("\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n" + kEos),
                       "<｜end▁of▁sentence｜> inside a tool call"));
        CHECK(contains(error_of("\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"),
                       "generation ended inside the tool-call block"));
    }
    SECTION("missing </think> and special tokens in text") {
        CHECK(contains(error_of("no end" + kEos, ThinkingMode::thinking), "</think> never came"));
        CHECK(contains(error_of("a<think>b" + kEos), "unexpected special token '<think>'"));
        CHECK(contains(error_of("answer"), "without <｜end▁of▁sentence｜>"));
        CHECK(contains(error_of("answer" + kEos + "x"), "text after <｜end▁of▁sentence｜>"));
    }
    SECTION("the error names its byte offset and stops the parser") {
        OutputParser p(ThinkingMode::chat);
        const auto events = p.feed("ok</think>");
        REQUIRE_FALSE(events.empty());
        CHECK(events.back().kind == ParseEventKind::error);
        CHECK(events.back().offset == 2);
        CHECK(events.back().text.rfind("byte 2: ", 0) == 0);
        CHECK(p.feed("more").empty());
        CHECK(p.region() == OutputRegion::done);
    }
}

TEST_CASE("the parser says when the model is inside protocol syntax") {
    OutputParser p(ThinkingMode::thinking);
    CHECK(p.region() == OutputRegion::reasoning);
    p.feed("r</think>");
    CHECK(p.region() == OutputRegion::text);
    p.feed("text\n\n<｜DSML｜");
    CHECK(p.in_protocol_syntax());  // a tool-call block is starting
    p.feed(
        "tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">");
    CHECK(p.region() == OutputRegion::string_value);
    p.feed("val</｜DSML｜parameter>\n<｜DSML｜parameter name=\"b\" string=\"false\">");
    CHECK(p.region() == OutputRegion::json_value);
    p.feed("1</｜DSML｜parameter>");
    CHECK(p.in_protocol_syntax());
    p.feed("\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>");
    CHECK(p.in_protocol_syntax());
    p.feed(kEos);
    CHECK(p.region() == OutputRegion::done);
    CHECK(p.message().complete);
    CHECK(p.message().tool_calls.at(0).arguments == R"({"a": "val", "b": 1})");
}

TEST_CASE("value deltas never include the closing '<' and never split UTF-8") {
    OutputParser p(ThinkingMode::chat);
    std::string value;
    const std::string text =
        call_block("<｜DSML｜parameter name=\"a\" string=\"true\">a<b>é中</｜DSML｜parameter>") +
        kEos;
    for (const char c : text) {
        for (const auto& e : p.feed(std::string(1, c))) {
            if (e.kind == ParseEventKind::parameter_value_delta) {
                CHECK((static_cast<unsigned char>(e.text[0]) & 0xC0) != 0x80);
                value += e.text;
            }
        }
    }
    CHECK(value == "a<b>é中");
    CHECK(p.message().tool_calls.at(0).arguments == R"({"a": "a<b>é中"})");
}
