#pragma once
// The tokenizer benchmark corpus: documents of source code, English prose and CJK text generated
// from a fixed seed, so every run (and the JavaScript comparison, through --write-corpus) measures
// the same bytes.

#include <cstdint>
#include <string>
#include <vector>

namespace osprey::agent::cli {

// Documents totalling at least `min_bytes` bytes of UTF-8: about 45% code, 40% prose, 15% CJK.
std::vector<std::string> make_bench_corpus(std::size_t min_bytes, std::uint64_t seed);

}  // namespace osprey::agent::cli
