// The tokenizer against Hugging Face's encodings of ../shared/golden/tokenizer/cases.json, using
// the V4 test tokenizer composed by scripts/setup (.deps/tokenizer).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

#include "model/tokenizer/tokenizer.hpp"

using osprey::model::StreamDecoder;
using osprey::model::TokenId;
using osprey::model::Tokenizer;

namespace {

const std::string kTokenizerDir = std::string(OSPREY_DEPS_DIR) + "/tokenizer";
const std::string kGolden = std::string(OSPREY_SHARED_DIR) + "/golden/tokenizer/cases.json";

const Tokenizer& tokenizer() {
    static const Tokenizer tok = Tokenizer::load(kTokenizerDir);
    return tok;
}

nlohmann::json cases() {
    std::ifstream in(kGolden);
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("every golden text encodes to Hugging Face's ids and decodes back") {
    const auto all = cases();
    REQUIRE(all.size() >= 168);
    std::size_t failures = 0;
    for (const auto& c : all) {
        const auto text = c.at("text").get<std::string>();
        const auto expected = c.at("ids").get<std::vector<TokenId>>();
        const auto ids = tokenizer().encode(text);
        if (ids != expected) {
            ++failures;
            std::size_t k = 0;
            while (k < ids.size() && k < expected.size() && ids[k] == expected[k]) {
                ++k;
            }
            UNSCOPED_INFO("text " << nlohmann::json(text.substr(0, 80)).dump()
                                  << ": first difference at " << k << " of " << expected.size());
        }
        CHECK(tokenizer().decode(expected) == text);
    }
    CHECK(failures == 0);
}

TEST_CASE("the V4 special tokens have their ids and the spec's sample encodes as documented") {
    const auto& tok = tokenizer();
    CHECK(tok.token_id("<｜begin▁of▁sentence｜>") == 0);
    CHECK(tok.token_id("<｜end▁of▁sentence｜>") == 1);
    CHECK(tok.token_id("<｜User｜>") == 128803);
    CHECK(tok.token_id("<｜Assistant｜>") == 128804);
    CHECK(tok.token_id("<think>") == 128821);
    CHECK(tok.token_id("</think>") == 128822);
    CHECK(tok.token_id("｜DSML｜") == 128825);
    CHECK(tok.bos_id() == 0);
    CHECK(tok.eos_id() == 1);
    CHECK_FALSE(tok.add_bos_token());
    const std::vector<TokenId> expected{19923, 3,    223,   5464, 5008, 1175,  19,    940, 223,
                                        19,    438,  223,   20,   6113, 257,   76589, 131, 100,
                                        76032, 1628, 76589, 131,  108,  76589, 131,   98};
    CHECK(tok.encode("Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ") == expected);
    CHECK(tok.encode("你好") == std::vector<TokenId>{30594});
    CHECK(tok.encode("<｜DSML｜tool_calls>").at(1) == 128825);
}

TEST_CASE("the fast BPE equals the reference BPE on random text") {
    const auto& tok = tokenizer();
    std::mt19937 rng(1234);
    const std::vector<std::string> alphabet{"a",
                                            "b",
                                            "e",
                                            "t",
                                            "h",
                                            " ",
                                            "  ",
                                            "\n",
                                            "\t",
                                            "1",
                                            "23",
                                            "中",
                                            "文",
                                            "の",
                                            "é",
                                            "ß",
                                            "😀",
                                            "é",
                                            "{",
                                            "}",
                                            "::",
                                            "<",
                                            ">",
                                            "_",
                                            "ing",
                                            "the",
                                            "<think>",
                                            "｜",
                                            "DSML",
                                            "\xd9\x85",
                                            "\xe0\xa4\x95",
                                            "\xcc\x81"};
    for (int round = 0; round < 400; ++round) {
        std::string text;
        const int n = static_cast<int>(rng() % 60);
        for (int i = 0; i < n; ++i) {
            text += alphabet[rng() % alphabet.size()];
        }
        INFO(nlohmann::json(text).dump());
        REQUIRE(tok.encode(text) == tok.encode_reference(text));
        REQUIRE(tok.decode(tok.encode(text)) == text);
    }
    // Long runs exercise the heap path far beyond typical words.
    const std::string runs =
        std::string(3000, ' ') + std::string(2000, 'a') + std::string(999, '9');
    CHECK(tok.encode(runs) == tok.encode_reference(runs));
}

TEST_CASE("streaming decode emits only whole UTF-8 and concatenates to the full decode") {
    const auto& tok = tokenizer();
    for (const auto& c : cases()) {
        const auto ids = c.at("ids").get<std::vector<TokenId>>();
        StreamDecoder stream(tok);
        std::string joined;
        for (const TokenId id : ids) {
            const std::string piece = stream.push(id);
            // Each piece is valid UTF-8 on its own.
            REQUIRE(tok.decode(tok.encode(piece)) == piece);
            joined += piece;
        }
        joined += stream.finish();
        REQUIRE(joined == c.at("text").get<std::string>());
    }
}
