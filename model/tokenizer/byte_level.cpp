#include "model/tokenizer/byte_level.hpp"

#include "model/tokenizer/utf8.hpp"

namespace osprey::model {
namespace {

bool maps_to_itself(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

}  // namespace

char32_t byte_to_char(unsigned char b) {
    if (maps_to_itself(b)) {
        return b;
    }
    // The bytes that are not printable take 256, 257, ... in byte order.
    unsigned n = 0;
    for (unsigned x = 0; x < b; ++x) {
        n += maps_to_itself(x) ? 0 : 1;
    }
    return 256 + n;
}

std::optional<unsigned char> char_to_byte(char32_t cp) {
    if (cp < 256) {
        if (maps_to_itself(static_cast<unsigned>(cp))) {
            return static_cast<unsigned char>(cp);
        }
        return std::nullopt;
    }
    unsigned n = 0;
    for (unsigned x = 0; x < 256; ++x) {
        if (!maps_to_itself(x)) {
            if (cp == 256 + n) {
                return static_cast<unsigned char>(x);
            }
            ++n;
        }
    }
    return std::nullopt;
}

std::string byte_level_decode(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    std::size_t i = 0;
    while (i < token.size()) {
        const int n = utf8::sequence_length(token, i);
        if (n <= 0) {
            return std::string(token);
        }
        const auto b = char_to_byte(utf8::decode_at(token, i, n));
        if (!b) {
            return std::string(token);
        }
        out += static_cast<char>(*b);
        i += static_cast<std::size_t>(n);
    }
    return out;
}

std::string byte_level_encode(std::string_view bytes) {
    std::string out;
    for (const char c : bytes) {
        utf8::append(out, byte_to_char(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace osprey::model
