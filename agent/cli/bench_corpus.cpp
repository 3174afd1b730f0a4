#include "agent/cli/bench_corpus.hpp"

#include <array>
#include <random>
#include <string_view>

namespace osprey::agent::cli {
namespace {

constexpr std::string_view kWords[] = {"the",
                                       "of",
                                       "and",
                                       "to",
                                       "in",
                                       "is",
                                       "that",
                                       "for",
                                       "it",
                                       "as",
                                       "was",
                                       "with",
                                       "be",
                                       "by",
                                       "on",
                                       "not",
                                       "he",
                                       "this",
                                       "are",
                                       "or",
                                       "his",
                                       "from",
                                       "at",
                                       "which",
                                       "but",
                                       "have",
                                       "an",
                                       "had",
                                       "they",
                                       "you",
                                       "were",
                                       "their",
                                       "one",
                                       "all",
                                       "we",
                                       "can",
                                       "her",
                                       "has",
                                       "there",
                                       "been",
                                       "if",
                                       "more",
                                       "when",
                                       "will",
                                       "would",
                                       "who",
                                       "so",
                                       "no",
                                       "model",
                                       "token",
                                       "server",
                                       "memory",
                                       "request",
                                       "latency",
                                       "throughput",
                                       "cache",
                                       "attention",
                                       "kernel",
                                       "layer",
                                       "user",
                                       "session",
                                       "context",
                                       "window",
                                       "result",
                                       "error",
                                       "value",
                                       "function",
                                       "compiler",
                                       "thread",
                                       "network",
                                       "storage",
                                       "system",
                                       "process",
                                       "engine",
                                       "agent",
                                       "review",
                                       "patch",
                                       "branch",
                                       "commit",
                                       "release",
                                       "version",
                                       "build",
                                       "measure",
                                       "improve",
                                       "because",
                                       "however",
                                       "therefore",
                                       "although",
                                       "between",
                                       "through",
                                       "during",
                                       "without",
                                       "against",
                                       "under",
                                       "important",
                                       "different",
                                       "possible",
                                       "available",
                                       "several",
                                       "quickly",
                                       "carefully",
                                       "exactly",
                                       "usually",
                                       "rarely",
                                       "always",
                                       "never",
                                       "often",
                                       "performance",
                                       "reliable",
                                       "distributed",
                                       "incremental",
                                       "deterministic",
                                       "configuration",
                                       "benchmark",
                                       "throughout",
                                       "architecture",
                                       "tokenizer",
                                       "decoder",
                                       "encoder",
                                       "sampling",
                                       "gradient"};

constexpr std::string_view kIdentParts[] = {
    "get",    "set",    "make",    "load",  "save",  "parse",  "read",   "write",  "open",  "close",
    "init",   "update", "compute", "apply", "check", "find",   "buffer", "index",  "count", "size",
    "offset", "data",   "node",    "tree",  "list",  "map",    "key",    "value",  "item",  "state",
    "config", "path",   "file",    "name",  "token", "batch",  "tensor", "weight", "scale", "block",
    "row",    "col",    "head",    "layer", "cache", "stream", "result", "error"};

// Common Chinese characters and Japanese kana (UTF-8).
constexpr std::string_view kHanzi =
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"
    "子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体"
    "制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内"
    "数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提"
    "直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计"
    "别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理模型推答案系统缓存请求延迟吞吐";
constexpr std::string_view kKana =
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんア"
    "イ"
    "ウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン";

// Concatenation by appending (GCC 12 warns falsely, -Wrestrict, on chains of operator+).
template <typename... Parts>
std::string cat(const Parts&... parts) {
    std::string out;
    (out.append(std::string_view(parts)), ...);
    return out;
}

class Gen {
public:
    explicit Gen(std::uint64_t seed) : rng_(seed) {}
    // Uniform enough for a corpus, and identical on every standard library (mt19937_64 is exact).
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
    std::string_view word() { return kWords[below(std::size(kWords))]; }
    std::string ident() {
        std::string s(kIdentParts[below(std::size(kIdentParts))]);
        const std::size_t parts = below(3);
        for (std::size_t i = 0; i < parts; ++i) {
            s += '_';
            s += kIdentParts[below(std::size(kIdentParts))];
        }
        return s;
    }
    std::string number() {
        switch (below(4)) {
            case 0:
                return std::to_string(below(10));
            case 1:
                return std::to_string(below(1000));
            case 2:
                return cat(std::to_string(below(100000)), ".", std::to_string(below(100)));
            default:
                return cat("0x", std::to_string(1000 + below(9000)));
        }
    }
    // One code point of a UTF-8 string made of 3-byte characters only.
    std::string_view cjk(std::string_view chars) {
        return chars.substr(below(chars.size() / 3) * 3, 3);
    }

    std::string sentence() {
        std::string s;
        const std::size_t n = 6 + below(15);
        for (std::size_t i = 0; i < n; ++i) {
            std::string w(word());
            if (i == 0) {
                w[0] = static_cast<char>(w[0] - 'a' + 'A');
            } else {
                s += ' ';
            }
            if (chance(4)) {
                w = number();
            }
            s += w;
            if (i + 1 < n && chance(8)) {
                s += ',';
            }
        }
        static constexpr std::string_view ends[] = {".", ".", ".", "?", "!", ":"};
        s += ends[below(6)];
        return s;
    }

    std::string prose_doc(std::size_t target) {
        std::string d;
        if (chance(50)) {
            d += "## " + sentence() + "\n\n";
        }
        while (d.size() < target) {
            if (chance(15)) {
                for (std::size_t i = 0, n = 2 + below(4); i < n; ++i) {
                    d += "- " + sentence() + "\n";
                }
            } else {
                for (std::size_t i = 0, n = 2 + below(6); i < n; ++i) {
                    d += sentence();
                    d += ' ';
                }
                d.back() = '\n';
            }
            d += '\n';
        }
        return d;
    }

    std::string code_doc(std::size_t target) {
        std::string d;
        const bool python = chance(50);
        while (d.size() < target) {
            const std::string fn = ident();
            const std::string a = ident();
            const std::string b = ident();
            if (python) {
                d += "def " + fn + "(" + a + ", " + b + "=None):\n";
                d += "    \"\"\"" + sentence() + "\"\"\"\n";
                for (std::size_t i = 0, n = 2 + below(6); i < n; ++i) {
                    const std::string v = ident();
                    switch (below(4)) {
                        case 0:
                            d += "    " + v + " = " + a + "." + ident() + "(" + number() + ", \"" +
                                 std::string(word()) + "\")\n";
                            break;
                        case 1:
                            d += "    if " + v + " > " + number() + ":\n        return " + b + "[" +
                                 number() + "]\n";
                            break;
                        case 2:
                            d += "    # " + sentence() + "\n";
                            break;
                        default:
                            d += "    for " + v + " in range(len(" + a + ")):\n        " + b +
                                 " += " + v + " * " + number() + "\n";
                    }
                }
                d += "    return " + a + "\n\n\n";
            } else {
                d += "// " + sentence() + "\nstatic int " + fn + "(const std::vector<int>& " + a +
                     ", std::size_t " + b + ") {\n";
                for (std::size_t i = 0, n = 2 + below(6); i < n; ++i) {
                    const std::string v = ident();
                    switch (below(4)) {
                        case 0:
                            d += "    auto " + v + " = " + a + "[" + b + " + " + number() + "];\n";
                            break;
                        case 1:
                            d += "    if (" + v + " >= " + number() + " && !" + ident() +
                                 "()) {\n        return -1;\n    }\n";
                            break;
                        case 2:
                            d += "    std::printf(\"%s: %d\\n\", \"" + std::string(word()) +
                                 "\", " + v + ");\n";
                            break;
                        default:
                            d += "    for (std::size_t i = 0; i < " + a +
                                 ".size(); ++i) {\n        " + v + " += " + a + "[i] * " +
                                 number() + ";\n    }\n";
                    }
                }
                d += "    return 0;\n}\n\n";
            }
        }
        return d;
    }

    std::string cjk_doc(std::size_t target) {
        std::string d;
        const bool japanese = chance(25);
        while (d.size() < target) {
            const std::size_t n = 8 + below(30);
            for (std::size_t i = 0; i < n; ++i) {
                d += cjk(japanese && chance(60) ? kKana : kHanzi);
                if (chance(3)) {
                    d += chance(50) ? cat(" ", word(), " ") : number();
                }
                if (i + 1 < n && chance(7)) {
                    d += "，";
                }
            }
            d += chance(85) ? "。" : "？";
            if (chance(20)) {
                d += "\n\n";
            }
        }
        return d;
    }

private:
    std::mt19937_64 rng_;
};

}  // namespace

std::vector<std::string> make_bench_corpus(std::size_t min_bytes, std::uint64_t seed) {
    Gen g(seed);
    std::vector<std::string> docs;
    std::size_t total = 0;
    while (total < min_bytes) {
        const std::size_t target = 1000 + g.below(7000);
        const std::size_t kind = g.below(100);
        std::string doc = kind < 45   ? g.code_doc(target)
                          : kind < 85 ? g.prose_doc(target)
                                      : g.cjk_doc(target);
        total += doc.size();
        docs.push_back(std::move(doc));
    }
    return docs;
}

}  // namespace osprey::agent::cli
