// The local backend under the agent loop: a make-tiny checkpoint with the real vocabulary, three
// model turns with tool results appended to ONE engine session. Proves the design's accounting
// (every token forwarded once: prefilled == context) and that the incremental session equals a
// fresh prefill of the same token sequence (fp32, <= 1e-5).
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/runtime/agent.hpp"
#include "agent/runtime/kv_persistence.hpp"
#include "model/make_tiny.hpp"
#include "model/weights.hpp"
#include "tests/agent/run_support.hpp"

using nlohmann::json;
using namespace osprey;

namespace {

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float worst = 0.0F;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::fabs(a[i] - b[i]));
    }
    return worst;
}

// A make-tiny checkpoint (tiny-a's shape) with the test tokenizer's full vocabulary, made once.
const std::filesystem::path& tiny_checkpoint() {
    static test::TempDir dir;
    static const std::filesystem::path path = [] {
        const auto tokenizer = model::Tokenizer::load(OSPREY_TEST_TOKENIZER);
        json config = json::parse(test::read_text(std::filesystem::path(OSPREY_SHARED_DIR) /
                                                  "golden" / "tiny-a" / "config.json"));
        config["vocab_size"] = tokenizer.id_limit();
        config["bos_token_id"] = *tokenizer.bos_id();
        config["eos_token_id"] = *tokenizer.eos_id();
        model::make_tiny_checkpoint(config.dump(), dir.path() / "model", 11);
        return dir.path() / "model";
    }();
    return path;
}

}  // namespace

TEST_CASE("local backend: three turns on one KV session equal a fresh prefill") {
    test::TempDir tmp;
    auto tokenizer =
        std::make_shared<const model::Tokenizer>(model::Tokenizer::load(OSPREY_TEST_TOKENIZER));
    auto weights = model::load_model(tiny_checkpoint());
    model::CpuBackendOptions cpu;
    cpu.threads = 2;
    std::shared_ptr<model::Backend> backend = model::make_cpu_backend(weights, cpu);
    model::SessionOptions session_options;
    session_options.numerics = model::Numerics::fp32;

    const auto ws = tmp.path() / "ws";
    test::write_text(ws / "notes.txt", "the answer is 42\n");
    test::write_text(ws / "AGENTS.md", "Be brief.\n");
    const std::vector<std::string> script = {
        test::turn("Look at the notes.", "", {test::invoke("read", {{"path", "notes.txt"}})}),
        test::turn("Check the folder too.", "", {test::invoke("list", {})}),
        test::turn("Found it.", "The answer is 42."),
    };
    agent::ModelClient client(tokenizer, backend, session_options, script, "local:tiny");

    asio::io_context io;
    tools::Registry registry = tools::make_default_registry();
    agent::AgentOptions options;
    options.workspace = std::filesystem::canonical(ws);
    options.prompt = "What is the answer?";
    std::vector<json> events;
    agent::Agent agent(io, client, registry, options, "local-test", nullptr, nullptr,
                       [&](const json& ev) { events.push_back(ev); });
    agent::AgentOutcome outcome;
    asio::co_spawn(io, agent.run(), [&](std::exception_ptr e, agent::AgentOutcome o) {
        REQUIRE_FALSE(e);
        outcome = std::move(o);
    });
    io.run();

    INFO(events.back().dump());
    REQUIRE(outcome.exit_code == 0);
    CHECK(outcome.steps == 3);
    CHECK(outcome.final_text == "The answer is 42.");
    for (const auto& ev : events) {
        CHECK(agent::validate_event(ev).empty());
    }
    const auto results = test::of_type(events, "tool.result");
    REQUIRE(results.size() == 2);
    CHECK(results[0].at("status") == "ok");
    CHECK(results[1].at("status") == "ok");

    // Each token went through the engine exactly once, and the session holds exactly them.
    model::Session& session = *client.session();
    CHECK(client.forwarded_tokens() == client.context_tokens());
    CHECK(outcome.prompt_tokens + outcome.decoded_tokens == client.context_tokens());
    CHECK(session.token_count() == client.context_tokens());
    CHECK(session.tokens() == client.tokens());
    std::int64_t reused_expected = 0;
    for (const auto& u : test::of_type(events, "usage")) {
        CHECK(u.at("reused_tokens") == reused_expected);
        reused_expected = u.at("context_tokens").get<std::int64_t>();
    }
    CHECK(reused_expected == client.context_tokens());

    // The logits after the last append (tool results of turn 2) equal one fresh prefill of the
    // same tokens; so do the logits after the very last token.
    const std::vector<std::int32_t>& all = client.tokens();
    REQUIRE(client.append_end() > 0);
    const std::vector<std::int32_t> prefix(all.begin(), all.begin() + client.append_end());
    {
        model::Session fresh(backend, session_options);
        const auto logits = fresh.append(prefix, 0, false);
        CHECK(max_abs_diff(logits, client.append_logits()) <= 1e-5F);
    }
    {
        model::Session fresh(backend, session_options);
        const auto logits = fresh.append(all, 0, false);
        CHECK(max_abs_diff(logits, client.last_logits()) <= 1e-5F);
    }
}

TEST_CASE("osprey run --model DIR runs the local engine on one session") {
    test::TempDir tmp;
    test::write_text(tmp.path() / "ws" / "a.txt", "a\n");
    const std::vector<std::string> base = {OSPREY_BINARY, "run",
                                           "--tokenizer", OSPREY_TEST_TOKENIZER,
                                           "--cwd",       (tmp.path() / "ws").string(),
                                           "--data-dir",  (tmp.path() / "data").string(),
                                           "--output",    "stream-json",
                                           "--seed",      "5"};
    auto args = base;
    args.insert(args.end(), {"--model", tiny_checkpoint().string(), "--max-tokens", "12", "hi"});
    const auto r = test::run_process(args);
    INFO(r.out << r.err);
    // Random weights: the task ends at the token budget, or earlier when the model stops by itself.
    REQUIRE((r.exit_code == 3 || r.exit_code == 0));
    const auto events = test::parse_events(r.out);
    REQUIRE(events.size() >= 4);
    CHECK(events.front().at("model") == "local:" + tiny_checkpoint().string());
    const json& done = events.back();
    CHECK(done.at("decoded_tokens").get<std::int64_t>() <= 12);
    CHECK(done.at("prompt_tokens").get<std::int64_t>() > 1000);
    CHECK(done.at("context_tokens").get<std::int64_t>() ==
          done.at("prompt_tokens").get<std::int64_t>() +
              done.at("decoded_tokens").get<std::int64_t>());

    // A model whose vocabulary is smaller than the tokenizer's is refused (exit 2), never run.
    args = base;
    args.insert(args.end(),
                {"--model",
                 (std::filesystem::path(OSPREY_SHARED_DIR) / "golden" / "tiny-a").string(), "hi"});
    const auto bad = test::run_process(args);
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("vocab_size") != std::string::npos);
}

TEST_CASE("local backend: --resume restores the KV snapshot and continues exactly") {
    test::TempDir tmp;
    const auto ws = tmp.path() / "ws";
    test::write_text(ws / "README.md", "tiny\n");
    const auto run = [&](const std::string& data, std::vector<std::string> extra) {
        std::vector<std::string> argv = {OSPREY_BINARY,  "run",
                                         "--model",      tiny_checkpoint().string(),
                                         "--tokenizer",  OSPREY_TEST_TOKENIZER,
                                         "--cwd",        ws.string(),
                                         "--data-dir",   (tmp.path() / data).string(),
                                         "--seed",       "7",
                                         "--max-tokens", "6",
                                         "--output",     "stream-json"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return test::run_process(argv);
    };
    const auto parse = [](const std::string& out) {
        std::vector<json> events;
        std::istringstream lines(out);
        std::string line;
        while (std::getline(lines, line)) {
            events.push_back(json::parse(line));
        }
        return events;
    };
    // Random weights rarely end a turn: the 6-token budget stops the task (exit 3) after the
    // prompt was prefilled and a snapshot of it written.
    const auto first = run("a", {"say something"});
    INFO(first.err);
    REQUIRE(first.exit_code == 3);
    const auto events = parse(first.out);
    const std::int64_t prompt = test::of_type(events, "turn.started").at(0).at("prompt_tokens");
    REQUIRE(prompt >= agent::kSnapshotEveryTokens);
    REQUIRE(std::filesystem::exists(tmp.path() / "a" / "kv"));

    // The cut-off turn is generated again from the restored prompt state: nothing prefilled
    // again, and the same seed gives the same tokens as the uninterrupted run.
    const auto resumed = run("a", {"--resume", "last"});
    INFO(resumed.err);
    REQUIRE(resumed.exit_code == 3);
    const auto again = parse(resumed.out);
    CHECK(again.front().at("restored_tokens") == prompt);
    CHECK(again.front().at("replayed_tokens") == 0);
    CHECK(resumed.err.find("warning") == std::string::npos);
    const auto text_of = [](const std::vector<json>& evs) {
        std::string s;
        for (const auto& e : evs) {
            if (e.at("type") == "reasoning.delta" || e.at("type") == "text.delta") {
                s += e.at("text").get<std::string>();
            }
        }
        return s;
    };
    CHECK(text_of(again) == text_of(events));
    // A damaged snapshot is reported and discarded; the session is rebuilt from the journal.
    for (const auto& f : std::filesystem::directory_iterator(tmp.path() / "a" / "kv")) {
        std::fstream file(f.path(), std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(static_cast<std::streamoff>(std::filesystem::file_size(f.path()) / 2));
        file.put('\x5a');
    }
    const auto rebuilt = run("a", {"--resume", "last"});
    INFO(rebuilt.err);
    REQUIRE(rebuilt.exit_code == 3);
    CHECK(rebuilt.err.find("discarded a KV snapshot") != std::string::npos);
    CHECK(rebuilt.err.find("checksum") != std::string::npos);
    const auto third = parse(rebuilt.out);
    CHECK(third.front().at("restored_tokens") == 0);
    CHECK(test::of_type(third, "usage").at(0).at("prompt_tokens") == prompt);
    CHECK(text_of(third) == text_of(events));

    const auto usage = test::of_type(again, "usage");
    REQUIRE(usage.size() == 1);
    CHECK(usage[0].at("context_tokens") ==
          test::of_type(events, "usage").at(0).at("context_tokens"));
}

TEST_CASE("local backend: a follow-up message continues the session, chunked prefill equals one") {
    test::TempDir tmp;
    auto tokenizer =
        std::make_shared<const model::Tokenizer>(model::Tokenizer::load(OSPREY_TEST_TOKENIZER));
    auto weights = model::load_model(tiny_checkpoint());
    model::CpuBackendOptions cpu;
    cpu.threads = 2;
    std::shared_ptr<model::Backend> backend = model::make_cpu_backend(weights, cpu);
    model::SessionOptions session_options;
    session_options.numerics = model::Numerics::fp32;
    const auto ws = tmp.path() / "ws";
    test::write_text(ws / "notes.txt", "the answer is 42\n");
    const std::vector<std::string> script = {
        test::turn("Read them.", "", {test::invoke("read", {{"path", "notes.txt"}})}),
        test::turn("Done.", "They say 42."),
        test::turn("Same session.", "Yes."),
    };
    agent::ModelClient client(tokenizer, backend, session_options, script, "local:tiny");
    std::vector<std::pair<std::int64_t, std::int64_t>> progress;
    client.set_prefill_progress(
        [&](std::int64_t done, std::int64_t total) { progress.emplace_back(done, total); }, 512);

    asio::io_context io;
    tools::Registry registry = tools::make_default_registry();
    agent::AgentOptions options;
    options.workspace = std::filesystem::canonical(ws);
    std::vector<json> events;
    agent::Agent agent(io, client, registry, options, "local-chat", nullptr, nullptr,
                       [&](const json& ev) { events.push_back(ev); });
    agent::AgentOutcome first;
    agent::AgentOutcome second;
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            agent.begin();
            first = co_await agent.run_turn("What do the notes say?");
            second = co_await agent.run_turn("Are you still there?");
            agent.finish(second);
        },
        [&](std::exception_ptr e) {
            REQUIRE_FALSE(e);
            finished = true;
        });
    io.run();
    REQUIRE(finished);
    CHECK(first.final_text == "They say 42.");
    CHECK(second.final_text == "Yes.");
    CHECK(second.exit_code == 0);

    // The second message appended only itself: one session, every token forwarded once.
    const auto started = test::of_type(events, "turn.started");
    REQUIRE(started.size() == 3);
    CHECK(started[2].at("prompt_tokens").get<std::int64_t>() < 64);
    std::int64_t reused_expected = 0;
    for (const auto& u : test::of_type(events, "usage")) {
        CHECK(u.at("reused_tokens") == reused_expected);
        reused_expected = u.at("context_tokens").get<std::int64_t>();
    }
    CHECK(client.forwarded_tokens() == client.context_tokens());
    CHECK(client.session()->tokens() == client.tokens());

    // The first prefill (system prompt + message, over 512 tokens) ran in chunks with progress.
    REQUIRE(progress.size() >= 3);
    CHECK(progress[0].first == 0);
    CHECK(progress[1].first == 512);
    CHECK(progress[1].second > 512);

    // Chunked and incremental appends give the logits of one fresh prefill of the same tokens.
    model::Session fresh(backend, session_options);
    const auto logits = fresh.append(client.tokens(), 0, false);
    CHECK(max_abs_diff(logits, client.last_logits()) <= 1e-5F);
}
