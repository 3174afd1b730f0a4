// Fuzzes the tokenizer (V4 test tokenizer from .deps): any valid UTF-8 encodes, the fast BPE equals
// the reference BPE, decoding gives the text back, streaming decode equals whole decode; invalid
// UTF-8 is refused with std::invalid_argument; the streaming decoder takes any bytes.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"

namespace {

const osprey::model::Tokenizer* tokenizer = nullptr;

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* env = std::getenv("OSPREY_FUZZ_TOKENIZER");
    const std::string path = env != nullptr ? env : std::string(OSPREY_DEPS_DIR) + "/tokenizer";
    static const auto loaded = osprey::model::Tokenizer::load(path);
    tokenizer = &loaded;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    osprey::model::StreamDecoder raw(*tokenizer);
    std::string streamed;
    for (std::size_t i = 0; i < size; i += 3) {
        streamed += raw.push_bytes(text.substr(i, 3));
    }
    streamed += raw.finish();
    require(streamed == osprey::model::utf8::lossy(text),
            "streamed bytes differ from lossy decode");

    if (osprey::model::utf8::first_invalid(text)) {
        bool refused = false;
        try {
            (void)tokenizer->encode(text);
        } catch (const std::invalid_argument&) {
            refused = true;
        }
        require(refused, "invalid UTF-8 was not refused");
        return 0;
    }
    const auto ids = tokenizer->encode(text);
    if (size <= 2048) {
        require(ids == tokenizer->encode_reference(text), "fast BPE differs from reference BPE");
    }
    require(tokenizer->decode(ids) == text, "decode(encode(text)) != text");
    osprey::model::StreamDecoder stream(*tokenizer);
    std::string joined;
    for (const auto id : ids) {
        joined += stream.push(id);
    }
    joined += stream.finish();
    require(joined == text, "streaming decode differs");
    return 0;
}
