// Fuzzes the streaming output parser: it never throws, and feeding the text in arbitrary pieces
// gives the same message, error and raw bytes as feeding it whole.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "model/chat/output_parser.hpp"

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_output_parser: %s\n", what);
        std::abort();
    }
}

bool same(const osprey::model::ParsedMessage& a, const osprey::model::ParsedMessage& b) {
    if (a.content != b.content || a.reasoning_content != b.reasoning_content ||
        a.tool_calls_raw != b.tool_calls_raw || a.complete != b.complete || a.error != b.error ||
        a.tool_calls.size() != b.tool_calls.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.tool_calls.size(); ++i) {
        if (a.tool_calls[i].name != b.tool_calls[i].name ||
            a.tool_calls[i].arguments != b.tool_calls[i].arguments ||
            a.tool_calls[i].raw != b.tool_calls[i].raw) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const auto mode = (data[0] & 1) != 0 ? osprey::model::ThinkingMode::thinking
                                         : osprey::model::ThinkingMode::chat;
    std::uint32_t seed = data[1];
    const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
    const auto whole = osprey::model::parse_completion(text, mode);

    osprey::model::OutputParser parser(mode);
    std::size_t pos = 0;
    while (pos < text.size()) {
        seed = seed * 1103515245U + 12345U;
        const std::size_t n = 1 + (seed >> 16) % 9;
        parser.feed(std::string_view(text).substr(pos, n));
        (void)parser.region();
        pos += n;
    }
    parser.finish();
    require(same(whole, parser.message()), "pieces and whole text disagree");
    return 0;
}
