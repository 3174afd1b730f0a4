#include "agent/cli/tokenizer_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/cli/bench_corpus.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace osprey::agent::cli {
namespace {

std::size_t parse_count(const Args& args, const char* option, std::size_t fallback,
                        std::size_t max) {
    const auto v = args.value(option);
    if (!v) {
        return fallback;
    }
    std::size_t pos = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(*v, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != v->size() || n == 0 || n > max) {
        throw UsageError(std::string(option) + " must be a whole number from 1 to " +
                         std::to_string(max));
    }
    return static_cast<std::size_t>(n);
}

int run_bench_tokenizer(const Args& args, Io& io) {
    const auto path = args.value("--tokenizer");
    if (!path) {
        throw UsageError("--tokenizer FILE is required (a tokenizer.json or a folder holding one)");
    }
    const std::size_t mb = parse_count(args, "--size-mb", 12, 4096);
    const std::size_t passes = parse_count(args, "--passes", 3, 100);
    const std::uint64_t seed = parse_count(args, "--seed", 20261201, UINT32_MAX);

    const auto t0 = std::chrono::steady_clock::now();
    std::optional<model::Tokenizer> tokenizer;
    try {
        tokenizer.emplace(model::Tokenizer::load(*path));
    } catch (const std::exception& e) {
        io.err << "osprey bench tokenizer: " << e.what() << "\n";
        return kExitUsage;
    }
    const double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto docs = make_bench_corpus(mb * 1000 * 1000, seed);
    std::size_t bytes = 0;
    for (const auto& d : docs) {
        bytes += d.size();
    }
    if (const auto out = args.value("--write-corpus")) {
        std::ofstream f(*out, std::ios::binary);
        for (const auto& d : docs) {
            f << nlohmann::json(d).dump() << "\n";
        }
        if (!f) {
            io.err << "osprey bench tokenizer: cannot write " << *out << "\n";
            return kExitFailure;
        }
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "corpus: %zu documents, %.2f MB (seed %llu; ~45%% code, 40%% prose, 15%% CJK)\n"
                  "tokenizer load: %.2f s\n",
                  docs.size(), static_cast<double>(bytes) / 1e6,
                  static_cast<unsigned long long>(seed), load_s);
    io.out << line;
    double best = 0;
    double best_cpu = 0;
    for (std::size_t p = 0; p < passes; ++p) {
        std::size_t tokens = 0;
        std::uint32_t hash = 2166136261U;
        const auto start = std::chrono::steady_clock::now();
        const std::clock_t cpu_start = std::clock();
        for (const auto& d : docs) {
            const auto ids = tokenizer->encode(d);
            tokens += ids.size();
            for (const auto id : ids) {
                hash = (hash ^ static_cast<std::uint32_t>(id)) * 16777619U;
            }
        }
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
        const double rate = static_cast<double>(bytes) / 1e6 / s;
        const double cpu_rate = static_cast<double>(bytes) / 1e6 / cpu;
        best = std::max(best, rate);
        best_cpu = std::max(best_cpu, cpu_rate);
        std::snprintf(line, sizeof line,
                      "pass %zu: %zu tokens (ids hash %08x) in %.3f s wall, %.3f s CPU: %.2f MB/s "
                      "wall, %.2f MB/s CPU\n",
                      p + 1, tokens, hash, s, cpu, rate, cpu_rate);
        io.out << line;
    }
    std::snprintf(line, sizeof line, "best: %.2f MB/s wall, %.2f MB/s CPU time (one thread)\n",
                  best, best_cpu);
    io.out << line;
    return kExitOk;
}

}  // namespace

Command tokenizer_bench_command() {
    Command tok;
    tok.name = "tokenizer";
    tok.summary = "encode a generated mixed corpus (code, prose, CJK) and print MB/s";
    tok.description =
        "Generates the corpus from --seed (the same bytes every run), encodes each document on "
        "one\n"
        "thread, and prints tokens, an ids hash (to compare implementations) and MB/s per pass\n"
        "(MB = 10^6 bytes of UTF-8). --write-corpus saves it as JSON lines, one document a line,\n"
        "for scripts/bench_tokenizer_js.mjs.";
    tok.options = {{"--tokenizer", "FILE", "tokenizer.json (or a folder holding it)"},
                   {"--size-mb", "N", "corpus size in MB (default 12)"},
                   {"--passes", "N", "encoding passes (default 3)"},
                   {"--seed", "N", "corpus seed (default 20261201)"},
                   {"--write-corpus", "FILE", "also write the corpus as JSON lines"}};
    tok.run = run_bench_tokenizer;
    return tok;
}

}  // namespace osprey::agent::cli
