#include "agent/cli/constraint_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "agent/review/findings.hpp"
#include "model/constrained/json_constraint.hpp"

namespace osprey::agent::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int run_bench_constraint(const Args& args, Io& io) {
    const auto path = args.value("--tokenizer");
    if (!path) {
        throw UsageError("--tokenizer FILE is required (a tokenizer.json or a folder holding one)");
    }
    std::size_t reps = 20;
    if (auto r = args.value("--reps")) {
        try {
            reps = static_cast<std::size_t>(std::stoul(*r));
        } catch (const std::exception&) {
            reps = 0;
        }
        if (reps == 0 || reps > 10000) {
            throw UsageError("--reps must be a whole number from 1 to 10000");
        }
    }
    std::optional<model::Tokenizer> tokenizer;
    try {
        tokenizer.emplace(model::Tokenizer::load(*path));
    } catch (const std::exception& e) {
        io.err << "osprey bench constraint: " << e.what() << "\n";
        return kExitUsage;
    }
    auto t0 = Clock::now();
    auto trie = std::make_shared<const model::TokenTrie>(*tokenizer);
    const double trie_ms = ms_since(t0);
    auto grammar = std::make_shared<const model::JsonGrammar>(review::answer_schema());
    char line[256];
    std::snprintf(line, sizeof line, "vocabulary: %zu ids, trie: %zu nodes, built in %.1f ms\n",
                  trie->vocab_size(), trie->nodes().size(), trie_ms);
    io.out << line;
    // States of a review answer: the start, inside a free string, before an enum value, inside
    // a number.
    const std::vector<std::pair<const char*, std::string>> states = {
        {"start", ""},
        {"in summary string", R"({"summary":"The change adds a)"},
        {"before verdict", R"({"summary":"ok","verdict":)"},
        {"in confidence",
         R"({"summary":"s","verdict":"comment","findings":[{"title":"t","body":"b","severity":"low","confidence":0.)"},
    };
    for (const auto& [name, prefix] : states) {
        model::JsonConstraint c(grammar, trie, 32768);
        for (const auto id : tokenizer->encode(prefix)) {
            c.accept(id);
        }
        std::vector<std::uint8_t> mask;
        std::vector<double> fast, slow;
        for (std::size_t i = 0; i < reps; ++i) {
            t0 = Clock::now();
            c.allowed_tokens(mask);
            fast.push_back(ms_since(t0));
        }
        const auto allowed = std::count(mask.begin(), mask.end(), 1);
        for (std::size_t i = 0; i < std::max<std::size_t>(1, reps / 10); ++i) {
            t0 = Clock::now();
            c.allowed_tokens_reference(mask);
            slow.push_back(ms_since(t0));
        }
        std::sort(fast.begin(), fast.end());
        std::sort(slow.begin(), slow.end());
        std::snprintf(line, sizeof line,
                      "%-18s allowed %7ld  mask median %7.2f ms  per-token reference "
                      "median %7.2f ms\n",
                      name, static_cast<long>(allowed), fast[fast.size() / 2],
                      slow[slow.size() / 2]);
        io.out << line;
    }
    return kExitOk;
}

}  // namespace

Command constraint_bench_command() {
    Command cmd;
    cmd.name = "constraint";
    cmd.summary = "allowed-token mask time of the JSON-schema constrained decoder";
    cmd.options = {
        {"--tokenizer", "FILE", "the tokenizer.json whose vocabulary is masked (required)"},
        {"--reps", "N", "timed masks per state (default 20)"},
    };
    cmd.run = run_bench_constraint;
    return cmd;
}

}  // namespace osprey::agent::cli
