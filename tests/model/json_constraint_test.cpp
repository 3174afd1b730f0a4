// The JSON-schema constrained decoder: the automaton byte by byte, the token trie's masks against
// the reference (every token walked on its own), and random token walks over the real vocabulary
// that always end in a document that parses and satisfies the schema within the byte budget.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "model/constrained/json_constraint.hpp"

using namespace osprey;
using ojson = nlohmann::ordered_json;
using nlohmann::json;

namespace {

const ojson& test_schema() {
    static const ojson s = ojson::parse(R"({
      "type": "object",
      "properties": {
        "summary": {"type": "string", "maxLength": 300},
        "verdict": {"enum": ["approve", "comment", "request-changes"]},
        "findings": {"type": "array", "maxItems": 5, "items": {
          "type": "object",
          "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 40},
            "severity": {"enum": ["critical", "high", "medium", "low", "info"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "start_line": {"type": "integer", "minimum": 1},
            "ok": {"type": "boolean"},
            "suggestion": {"type": "string"}
          },
          "required": ["title", "severity", "confidence", "start_line"],
          "additionalProperties": false}}
      },
      "required": ["summary", "verdict", "findings"],
      "additionalProperties": false})");
    return s;
}

// A hand check of test_schema() (the model layer has no general validator).
void check_document(const std::string& text) {
    INFO(text);
    const json doc = json::parse(text);  // throws when it does not parse
    REQUIRE(doc.is_object());
    REQUIRE(doc.size() == 3);
    REQUIRE(doc.at("summary").is_string());
    CHECK(doc.at("summary").get<std::string>().size() <= 4 * 300);
    const std::string verdict = doc.at("verdict").get<std::string>();
    CHECK((verdict == "approve" || verdict == "comment" || verdict == "request-changes"));
    REQUIRE(doc.at("findings").is_array());
    CHECK(doc.at("findings").size() <= 5);
    for (const auto& f : doc.at("findings")) {
        REQUIRE(f.is_object());
        CHECK(f.at("title").is_string());
        CHECK(!f.at("title").get<std::string>().empty());
        CHECK(f.at("severity").is_string());
        REQUIRE(f.at("confidence").is_number());
        CHECK(f.at("confidence").get<double>() >= 0.0);
        CHECK(f.at("confidence").get<double>() <= 1.0);
        REQUIRE(f.at("start_line").is_number_integer());
        CHECK(f.at("start_line").get<std::int64_t>() >= 1);
        for (const auto& [k, v] : f.items()) {
            CHECK((k == "title" || k == "severity" || k == "confidence" || k == "start_line" ||
                   k == "ok" || k == "suggestion"));
            (void)v;
        }
    }
}

bool accepts(const model::JsonGrammar& g, std::string_view text, bool complete = true) {
    model::JsonState s(g);
    return s.step(text) && (!complete || s.done());
}

const model::Tokenizer& tokenizer() {
    static const model::Tokenizer t = model::Tokenizer::load(OSPREY_TEST_TOKENIZER);
    return t;
}

// Built once for every test case (the sanitizer build is slow).
std::shared_ptr<const model::TokenTrie> shared_trie() {
    static const auto trie = std::make_shared<const model::TokenTrie>(tokenizer());
    return trie;
}

}  // namespace

TEST_CASE("json constraint: the automaton accepts compact valid documents only") {
    const model::JsonGrammar g(test_schema());
    CHECK(accepts(g, R"({"summary":"","verdict":"approve","findings":[]})"));
    CHECK(accepts(
        g,
        R"({"summary":"a \"q\" \\ é 😀","verdict":"comment","findings":[{"title":"t","severity":"high","confidence":0.75,"start_line":12,"ok":true,"suggestion":"x\n"}]})"));
    CHECK(accepts(
        g,
        R"({"summary":"s","verdict":"comment","findings":[{"title":"t","severity":"low","confidence":1.0,"start_line":1},{"title":"u","severity":"info","confidence":0,"start_line":3}]})"));
    // Wrong type, bad enum, out of range, missing required, extra key, whitespace, \u escape.
    CHECK_FALSE(accepts(g, R"({"summary":1)", false));
    CHECK_FALSE(accepts(g, R"({"summary":"","verdict":"maybe")", false));
    CHECK_FALSE(accepts(
        g,
        R"({"summary":"","verdict":"approve","findings":[{"title":"t","severity":"high","confidence":1.5)",
        false));
    CHECK_FALSE(accepts(
        g,
        R"({"summary":"","verdict":"approve","findings":[{"title":"t","severity":"high","confidence":0.5,"start_line":0)",
        false));
    CHECK_FALSE(accepts(g, R"({"summary":"","findings")", false));
    CHECK_FALSE(accepts(g, R"({"summary":"","verdict":"approve","findings":[],"x")", false));
    CHECK_FALSE(accepts(g, R"({ "summary")", false));
    CHECK_FALSE(accepts(g, R"({"summary":"\u0041)", false));
    CHECK_FALSE(accepts(
        g, R"({"summary":"","verdict":"approve","findings":[{"title":"","severity")", false));
    CHECK_FALSE(accepts(g, R"({"summary":"","verdict":"approve","findings":[]}x)", false));
    CHECK_FALSE(accepts(g, "{\"summary\":\"\xC3(", false));         // broken UTF-8
    CHECK_FALSE(accepts(g, "{\"summary\":\"\xED\xA0\x80", false));  // a surrogate
    CHECK_FALSE(accepts(g, "{\"summary\":\"a\nb", false));          // raw control character
    // Incomplete is not done.
    CHECK_FALSE(accepts(g, R"({"summary":"","verdict":"approve","findings":[])"));
}

TEST_CASE("json constraint: the minimal completion is exact") {
    const model::JsonGrammar g(test_schema());
    model::JsonState s(g);
    const std::string shortest = R"({"summary":"","verdict":"comment","findings":[]})";
    // "comment" and "approve" are the shortest verdicts (7 letters).
    CHECK(s.min_completion() == shortest.size());
    for (std::size_t i = 0; i < shortest.size(); ++i) {
        REQUIRE(s.step(static_cast<unsigned char>(shortest[i])));
        CHECK(s.min_completion() == shortest.size() - i - 1);
    }
    CHECK(s.done());
}

TEST_CASE("json constraint: unsupported schemas are refused with the place named") {
    CHECK_THROWS_AS(model::JsonGrammar(ojson::parse(R"({"type":"string"})")), model::SchemaError);
    CHECK_THROWS_WITH(
        model::JsonGrammar(ojson::parse(
            R"({"type":"object","properties":{"a":{"type":"string","pattern":"x"}}})")),
        Catch::Contains("schema.properties.a") && Catch::Contains("pattern"));
    CHECK_THROWS_AS(
        model::JsonGrammar(ojson::parse(R"({"type":"object","properties":{},"required":["a"]})")),
        model::SchemaError);
}

TEST_CASE("json constraint: trie masks equal the per-token reference, random walks validate") {
    if (!std::filesystem::exists(OSPREY_TEST_TOKENIZER)) {
        WARN("SKIP: the test tokenizer is missing (run scripts/setup): " OSPREY_TEST_TOKENIZER);
        return;
    }
    auto grammar = std::make_shared<const model::JsonGrammar>(test_schema());
    auto trie = shared_trie();
    CHECK(trie->nodes().size() > 100000);
    // Special tokens never appear in an answer.
    CHECK_FALSE(trie->usable(*tokenizer().eos_id()));
    for (std::uint64_t seed : {1U, 2U, 3U, 4U, 5U, 6U}) {
        const std::uint32_t budget = 250 + 60 * static_cast<std::uint32_t>(seed);
        model::JsonConstraint c(grammar, trie, budget);
        std::mt19937_64 rng(seed);
        std::vector<std::uint8_t> allowed, reference;
        std::size_t steps = 0;
        while (!c.done()) {
            c.allowed_tokens(allowed);
            if (seed <= 2 && steps % 7 == 0) {  // the reference walks all 129k tokens: sample it
                c.allowed_tokens_reference(reference);
                REQUIRE(allowed == reference);
            }
            std::vector<std::int32_t> ids;
            for (std::size_t i = 0; i < allowed.size(); ++i) {
                if (allowed[i] != 0) {
                    ids.push_back(static_cast<std::int32_t>(i));
                }
            }
            REQUIRE_FALSE(ids.empty());
            // Favour closing sometimes so walks are varied but short.
            const std::int32_t pick = ids[rng() % ids.size()];
            REQUIRE(c.allows(pick));
            c.accept(pick);
            REQUIRE(++steps <= budget);
        }
        CHECK(c.text().size() <= budget);
        check_document(c.text());
        // Nothing may follow a complete document.
        c.allowed_tokens(allowed);
        CHECK(std::count(allowed.begin(), allowed.end(), 1) == 0);
    }
}

TEST_CASE("json constraint: refused tokens are refused for a reason") {
    if (!std::filesystem::exists(OSPREY_TEST_TOKENIZER)) {
        WARN("SKIP: the test tokenizer is missing (run scripts/setup): " OSPREY_TEST_TOKENIZER);
        return;
    }
    auto grammar = std::make_shared<const model::JsonGrammar>(test_schema());
    auto trie = shared_trie();
    model::JsonConstraint c(grammar, trie, 100000);
    for (const auto id : tokenizer().encode(R"({"summary":"x","verdict":")")) {
        REQUIRE(c.allows(id));
        c.accept(id);
    }
    // Now only a verdict may follow: every allowed token is a prefix of one (or a verdict plus
    // what may follow it), and "approve" as a token is allowed while "maybe" is not.
    std::vector<std::uint8_t> allowed;
    c.allowed_tokens(allowed);
    for (std::size_t i = 0; i < allowed.size(); ++i) {
        if (allowed[i] != 0) {
            const std::string b(trie->bytes(static_cast<std::int32_t>(i)));
            INFO(b);
            const bool prefix_of_verdict =
                std::string("approve\",\"findings\":[").rfind(b, 0) == 0 ||
                std::string("comment\",\"findings\":[").rfind(b, 0) == 0 ||
                std::string("request-changes\",\"findings\":[").rfind(b, 0) == 0;
            CHECK(prefix_of_verdict);
        }
    }
    const auto approve = tokenizer().encode("approve");
    const auto maybe = tokenizer().encode("maybe");
    CHECK(c.allows(approve.front()));
    CHECK_FALSE(c.allows(maybe.front()));
    CHECK_THROWS_AS(c.accept(maybe.front()), std::logic_error);
}

TEST_CASE("json constraint: the in-string fast mask equals the reference at the bounds") {
    if (!std::filesystem::exists(OSPREY_TEST_TOKENIZER)) {
        WARN("SKIP: the test tokenizer is missing (run scripts/setup): " OSPREY_TEST_TOKENIZER);
        return;
    }
    auto grammar = std::make_shared<const model::JsonGrammar>(test_schema());
    auto trie = shared_trie();
    const std::string head = R"({"summary":"s","verdict":"comment","findings":[{"title":")";
    struct Case {
        std::string prefix;
        std::uint32_t budget;
    };
    const std::vector<Case> cases = {
        {head, 100000},                         // minLength 1 not met yet
        {head + std::string(38, 'a'), 100000},  // 2 characters left of 40
        {head + std::string(40, 'a'), 100000},  // full: only the closing quote
        {head + "é", 100000},                   // after a multi-byte character
        {head + "ab", 150},                     // the byte budget binds
        {R"({"summary":"x)", 60},               // the budget binds in the first string
    };
    for (const auto& c : cases) {
        INFO(c.prefix << " budget " << c.budget);
        model::JsonConstraint constraint(grammar, trie, c.budget);
        model::JsonState probe(*grammar);
        REQUIRE(probe.step(c.prefix));
        for (const auto id : tokenizer().encode(c.prefix)) {
            REQUIRE(constraint.allows(id));
            constraint.accept(id);
        }
        std::vector<std::uint8_t> fast, reference;
        constraint.allowed_tokens(fast);
        constraint.allowed_tokens_reference(reference);
        CHECK(fast == reference);
        CHECK(std::count(fast.begin(), fast.end(), 1) > 0);
    }
}
