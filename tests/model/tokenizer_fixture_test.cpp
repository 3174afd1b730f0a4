// The V4 test tokenizer composed by scripts/setup (.deps/tokenizer) against the golden data it
// serves: every V4 added token at its id, and every id in the golden encodings known to the
// tokenizer.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

namespace {

nlohmann::json load(const std::string& path) {
    std::ifstream in(path);
    INFO(path << " (run scripts/setup to compose the test tokenizer)");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

const std::string kTokenizer = std::string(OSPREY_DEPS_DIR) + "/tokenizer/tokenizer.json";
const std::string kGolden = std::string(OSPREY_SHARED_DIR) + "/golden/tokenizer/";

}  // namespace

TEST_CASE("the composed tokenizer is the V3 BPE plus every V4 added token at its id") {
    const auto tok = load(kTokenizer);
    CHECK(tok.at("model").at("type") == "BPE");
    CHECK(tok.at("model").at("vocab").size() == 128000);
    std::map<int, std::string> added;
    for (const auto& t : tok.at("added_tokens")) {
        const int id = t.at("id");
        CHECK(added.count(id) == 0);  // no id twice
        added[id] = t.at("content");
    }
    const auto v4 = load(kGolden + "v4_added_tokens.json").at("added_tokens");
    REQUIRE(v4.size() > 0);
    for (const auto& t : v4) {
        const int id = t.at("id");
        INFO("V4 token " << id);
        REQUIRE(added.count(id) == 1);
        CHECK(added.at(id) == t.at("content").get<std::string>());
    }
    CHECK(added.at(0) == "<｜begin▁of▁sentence｜>");
    CHECK(added.at(1) == "<｜end▁of▁sentence｜>");
}

TEST_CASE("every id in the golden encodings exists in the composed tokenizer") {
    const auto tok = load(kTokenizer);
    std::set<int> known;
    for (const auto& [piece, id] : tok.at("model").at("vocab").items()) {
        known.insert(id.get<int>());
    }
    for (const auto& t : tok.at("added_tokens")) {
        known.insert(t.at("id").get<int>());
    }
    const auto cases = load(kGolden + "cases.json");
    REQUIRE(cases.size() >= 100);
    std::size_t ids = 0;
    for (const auto& c : cases) {
        for (const auto& id : c.at("ids")) {
            ++ids;
            if (known.count(id.get<int>()) == 0) {
                FAIL("id " << id << " of golden text " << c.at("text").dump().substr(0, 60)
                           << " is not in the tokenizer");
            }
        }
    }
    CHECK(ids > 1000);
}
