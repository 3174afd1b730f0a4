// Tokenizer pieces on a small synthetic tokenizer.json: BPE by rank, added-token flags
// (lstrip/rstrip/single_word, normalized or not), the streaming decoder, regex translation.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "model/tokenizer/byte_level.hpp"
#include "model/tokenizer/pre_tokenizer.hpp"
#include "model/tokenizer/tokenizer.hpp"

using osprey::model::StreamDecoder;
using osprey::model::TokenId;
using osprey::model::Tokenizer;

namespace {

Tokenizer tiny() {
    nlohmann::json vocab = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) {
        vocab[osprey::model::byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
    }
    vocab["he"] = 256;
    vocab["ll"] = 257;
    vocab["hell"] = 258;
    vocab["hello"] = 259;
    vocab["Ġhello"] = 260;
    const auto added = [](const char* content, int id, bool lstrip, bool rstrip, bool single,
                          bool normalized) {
        return nlohmann::json{{"id", id},
                              {"content", content},
                              {"single_word", single},
                              {"lstrip", lstrip},
                              {"rstrip", rstrip},
                              {"normalized", normalized},
                              {"special", !normalized}};
    };
    nlohmann::json tok = {
        {"normalizer", nullptr},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", R"( ?\p{L}+|\s+(?!\S)|\s+|[^\s\p{L}]+)"}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model",
         {{"type", "BPE"},
          {"vocab", vocab},
          {"merges", {"h e", "l l", "he ll", "hell o", "Ġ hello"}}}},
        {"added_tokens",
         {added("<A>", 300, true, false, false, false),
          added("<B>", 301, false, true, false, false),
          added("<C>", 302, false, false, true, false),
          added("<D>", 303, false, false, false, true),
          added("<A><B>", 304, false, false, false, false)}}};
    return Tokenizer::from_json(tok, nullptr);
}

bool has(const std::vector<TokenId>& ids, TokenId id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

TEST_CASE("BPE merges by rank") {
    const auto tok = tiny();
    CHECK(tok.encode("hello") == std::vector<TokenId>{259});
    CHECK(tok.encode("hello hello") == std::vector<TokenId>{259, 260});
    CHECK(tok.encode("hel") == std::vector<TokenId>{256, 'l'});
    CHECK(tok.encode_reference("hellohello") == tok.encode("hellohello"));
    CHECK(tok.decode(tok.encode("hello wörld")) == "hello wörld");
}

TEST_CASE("added tokens: leftmost-longest, lstrip, rstrip, single_word, normalized") {
    const auto tok = tiny();
    CHECK(tok.encode("<A><B>") == std::vector<TokenId>{304});       // longest wins
    CHECK(tok.encode("x  <A>") == std::vector<TokenId>{'x', 300});  // lstrip eats the spaces
    CHECK(tok.encode("<B>  y") == std::vector<TokenId>{301, 'y'});  // rstrip eats the spaces
    CHECK_FALSE(has(tok.encode("a<C>b"), 302));                     // inside a word: not a token
    CHECK(has(tok.encode("a <C> b"), 302));
    CHECK(tok.encode("q<D>q") == std::vector<TokenId>{'q', 303, 'q'});
    CHECK(tok.decode(std::vector<TokenId>{304, 'x'}) == "<A><B>x");
    CHECK(tok.is_special(300));
    CHECK_FALSE(tok.is_special(303));
    CHECK(tok.token_id("<D>") == 303);
}

TEST_CASE("invalid UTF-8 input is refused with its offset") {
    const auto tok = tiny();
    CHECK_THROWS_WITH(tok.encode("ab\xff"), Catch::Contains("byte offset 2"));
}

TEST_CASE("streaming decode holds partial UTF-8 and replaces what cannot complete") {
    const auto tok = tiny();
    StreamDecoder d(tok);
    CHECK(d.push(0xC3).empty());
    CHECK(d.pending_bytes() == 1);
    CHECK(d.push(0xA9) == "é");
    CHECK(d.push(0xE4).empty());
    CHECK(d.push(0xB8).empty());
    CHECK(d.push('x') == "\xEF\xBF\xBDx");  // E4 B8 then 'x': one U+FFFD, as a lossy decode
    CHECK(d.push(0xFF) == "\xEF\xBF\xBD");
    CHECK(d.push(0xF0).empty());
    CHECK(d.finish() == "\xEF\xBF\xBD");
    CHECK(tok.decode(std::vector<TokenId>{0xE4, 0xB8, 'x', 0xFF}) == "\xEF\xBF\xBDx\xEF\xBF\xBD");
}

TEST_CASE("regexes translate to PCRE2 with Oniguruma's \\s and \\uXXXX escapes") {
    using osprey::model::translate_regex;
    CHECK(translate_regex(R"([\u4e00-\u9fa5]+)") == R"([\x{4e00}-\x{9fa5}]+)");
    CHECK(translate_regex(R"(\s+(?!\S))").find("[^") != std::string::npos);
    CHECK(translate_regex(R"([^\s\p{L}])").find("[^\\x{9}") == 0);
    CHECK(translate_regex(R"(\\s)") == R"(\\s)");  // an escaped backslash, then 's'
}

TEST_CASE("unsupported tokenizer.json features are refused by name") {
    nlohmann::json tok = {{"model", {{"type", "WordPiece"}, {"vocab", nlohmann::json::object()}}}};
    CHECK_THROWS_WITH(Tokenizer::from_json(tok, nullptr), Catch::Contains("WordPiece"));
}
