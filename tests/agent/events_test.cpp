#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>

#include "agent/events.hpp"

using namespace osprey::agent;
using nlohmann::json;

namespace {

// docs/events.md as {section ("common" or an event type) -> [(field, type, optional)]}.
using DocFields = std::map<std::string, std::vector<std::tuple<std::string, std::string, bool>>>;

DocFields read_doc() {
    std::ifstream in(std::string(OSPREY_SOURCE_DIR) + "/docs/events.md");
    REQUIRE(in.good());
    DocFields doc;
    std::string section;
    const std::regex heading(R"(^### `([a-z._]+)`$)");
    const std::regex row(R"(^\| `([a-z_]+)` \| ([a-z ]+?)(\?)? \|)");
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (line == "## Common fields (every event)") {
            section = "common";
        } else if (std::regex_match(line, m, heading)) {
            section = m[1];
        } else if (!section.empty() && std::regex_search(line, m, row)) {
            doc[section].emplace_back(m[1], m[2], m[3].matched);
        }
    }
    return doc;
}

}  // namespace

TEST_CASE("docs/events.md and the code define the same events and fields") {
    const DocFields doc = read_doc();
    REQUIRE(doc.count("common") == 1);
    std::vector<std::tuple<std::string, std::string, bool>> common;
    for (const auto& f : common_event_fields()) {
        common.emplace_back(f.name, f.type, f.optional);
    }
    CHECK(doc.at("common") == common);
    CHECK(doc.size() == event_types().size() + 1);
    for (const auto& type : event_types()) {
        INFO(type.name);
        REQUIRE(doc.count(std::string(type.name)) == 1);
        std::vector<std::tuple<std::string, std::string, bool>> fields;
        for (const auto& f : type.fields) {
            fields.emplace_back(f.name, f.type, f.optional);
        }
        CHECK(doc.at(std::string(type.name)) == fields);
    }
}

TEST_CASE("the stamper numbers events and validates them") {
    EventStamper stamper("20261201-000000-abcd");
    const json a = stamper.stamp("turn.started", {{"prompt_tokens", 12}});
    stamper.set_step(1);
    const json b = stamper.stamp("text.delta", {{"text", "hi"}});
    CHECK(a["seq"] == 0);
    CHECK(b["seq"] == 1);
    CHECK(b["step"] == 1);
    CHECK(a["v"] == 1);
    CHECK(a["session"] == "20261201-000000-abcd");
    CHECK(std::regex_match(a["time"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    CHECK(validate_event(a).empty());
    CHECK_THROWS_WITH(stamper.stamp("text.delta", {{"text", 3}}),
                      Catch::Contains("field 'text' must be string"));
    CHECK(stamper.next_seq() == 2);  // a rejected event takes no number
}

TEST_CASE("validation names what is wrong") {
    EventStamper stamper("s");
    json e = stamper.stamp("tool.result", {{"call_id", "call_1_0"},
                                           {"name", "read"},
                                           {"status", "ok"},
                                           {"output", "1: x"},
                                           {"duration_ms", 3}});
    CHECK(validate_event(e).empty());
    e["data"] = {{"lines", 1}};
    CHECK(validate_event(e).empty());  // optional field present
    json missing = e;
    missing.erase("output");
    CHECK(validate_event(missing) == "tool.result: missing field 'output'");
    json extra = e;
    extra["surprise"] = 1;
    CHECK(validate_event(extra) == "tool.result: unknown field 'surprise'");
    json unknown = e;
    unknown["type"] = "tool.exploded";
    CHECK(validate_event(unknown) == "unknown event type 'tool.exploded'");
    json future = e;
    future["v"] = 2;
    CHECK(validate_event(future) == "unknown schema version 2");
    json tools = stamper.stamp("session.started", {{"model", "m"},
                                                   {"mode", "think"},
                                                   {"workspace", "/w"},
                                                   {"permission", "auto"},
                                                   {"tools", {"read", "grep"}}});
    tools["tools"].push_back(7);
    CHECK(validate_event(tools) ==
          "session.started: field 'tools' must be array of string, not array");
    CHECK(validate_event(json::array()) == "an event must be a JSON object");
}
