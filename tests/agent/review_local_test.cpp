// Constrained decoding on the local backend: a make-tiny checkpoint with random weights and the
// real vocabulary still writes a final answer that parses and validates against the findings schema
// (several seeds), and the same seed gives the same answer; `osprey review --model DIR --seed N` is
// reproducible end to end.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/review/findings.hpp"
#include "agent/runtime/model_client.hpp"
#include "model/chat/chat_encoder.hpp"
#include "model/make_tiny.hpp"
#include "model/weights.hpp"
#include "tests/agent/run_support.hpp"
#include "tools/core/json_schema.hpp"

using nlohmann::json;
using namespace osprey;

namespace {

const std::filesystem::path& tiny_checkpoint() {
    static test::TempDir dir;
    static const std::filesystem::path path = [] {
        const auto tokenizer = model::Tokenizer::load(OSPREY_TEST_TOKENIZER);
        json config = json::parse(test::read_text(std::filesystem::path(OSPREY_SHARED_DIR) /
                                                  "golden" / "tiny-a" / "config.json"));
        config["vocab_size"] = tokenizer.id_limit();
        config["bos_token_id"] = *tokenizer.bos_id();
        config["eos_token_id"] = *tokenizer.eos_id();
        model::make_tiny_checkpoint(config.dump(), dir.path() / "model", 23);
        return dir.path() / "model";
    }();
    return path;
}

std::string constrained_answer(const std::shared_ptr<const model::Tokenizer>& tokenizer,
                               const std::shared_ptr<model::Backend>& backend,
                               const std::shared_ptr<const model::JsonGrammar>& grammar,
                               const std::shared_ptr<const model::TokenTrie>& trie,
                               std::uint64_t seed, std::uint32_t budget) {
    model::SamplingParams sampling;
    sampling.temperature = 1.0F;
    sampling.seed = seed;
    agent::ModelClient client(tokenizer, backend, model::SessionOptions{}, sampling, "local:tiny");
    const nlohmann::ordered_json messages = {
        {{"role", "system"}, {"content", "You review code."}},
        {{"role", "user"}, {"content", "Review this change and answer in JSON."}}};
    client.append(client.encode(model::render_chat(messages, model::ChatOptions{})));
    model::JsonConstraint constraint(grammar, trie, budget);
    std::atomic<bool> cancel{false};
    const auto out = client.generate_constrained(constraint, cancel);
    REQUIRE(out.complete);
    CHECK(out.text.size() <= budget);
    // The session holds the answer and its end of sentence.
    CHECK(client.tokens().back() == client.eos_id());
    return out.text;
}

}  // namespace

TEST_CASE("review: random weights still write a valid findings answer under the constraint") {
    auto tokenizer =
        std::make_shared<const model::Tokenizer>(model::Tokenizer::load(OSPREY_TEST_TOKENIZER));
    auto weights = model::load_model(tiny_checkpoint());
    model::CpuBackendOptions cpu;
    cpu.threads = 2;
    std::shared_ptr<model::Backend> backend = model::make_cpu_backend(weights, cpu);
    auto grammar = std::make_shared<const model::JsonGrammar>(agent::review::answer_schema());
    auto trie = std::make_shared<const model::TokenTrie>(*tokenizer);
    const json schema = json::parse(agent::review::answer_schema().dump());
    std::vector<std::string> texts;
    for (std::uint64_t seed : {1U, 2U, 3U}) {
        const std::string text = constrained_answer(tokenizer, backend, grammar, trie, seed, 450);
        INFO("seed " << seed << ": " << text);
        const json doc = json::parse(text);
        CHECK(tools::validate_json(schema, doc).empty());
        CHECK_NOTHROW(agent::review::parse_answer(text));
        texts.push_back(text);
    }
    // The same seed, the same answer.
    CHECK(constrained_answer(tokenizer, backend, grammar, trie, 2, 450) == texts[1]);
}

TEST_CASE("osprey review --model DIR --seed N: a valid report, the same twice") {
    test::TempDir tmp;
    const auto repo = tmp.path() / "repo";
    test::write_text(repo / "a.c", "int f(void) { return 1; }\n");
    const std::string git = "cd '" + repo.string() +
                            "' && git -c user.name=t -c user.email=t@t -c init.defaultBranch=main ";
    REQUIRE(std::system(
                (git + "init -q && " + git + "add -A && " + git + "commit -qm init").c_str()) == 0);
    test::write_text(repo / "a.c", "int f(void) { return 2; }\nint g(void) { return 3; }\n");
    const std::vector<std::string> args = {OSPREY_BINARY,    "review",
                                           "--model",        tiny_checkpoint().string(),
                                           "--tokenizer",    OSPREY_TEST_TOKENIZER,
                                           "--cwd",          repo.string(),
                                           "--seed",         "7",
                                           "--max-steps",    "1",
                                           "--max-tokens",   "4",
                                           "--answer-bytes", "600",
                                           "--mode",         "chat",
                                           "--format",       "json"};
    const auto env = std::vector<std::string>{"XDG_CACHE_HOME=" + (tmp.path() / "cache").string()};
    const auto first = test::run_process(args, env);
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    const json report = json::parse(first.out);
    CHECK(report.at("verdict").is_string());
    CHECK(report.at("findings").size() + report.at("dropped_count").get<std::size_t>() <= 100);
    CHECK_THAT(first.err, Catch::Contains("review: final answer"));
    const auto second = test::run_process(args, env);
    REQUIRE(second.exit_code == 0);
    CHECK(second.out == first.out);
}
