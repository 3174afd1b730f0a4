#include "model/tokenizer/byte_level.hpp"

#include "model/tokenizer/utf8.hpp"

namespace osprey::model {
namespace {

bool maps_to_itself(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

struct Tables {
    std::array<char32_t, 256> to_char{};
    std::array<int, 324> to_byte{};  // code points 0..323 cover the whole mapping
    Tables() {
        to_byte.fill(-1);
        unsigned n = 0;
        for (unsigned b = 0; b < 256; ++b) {
            // The bytes that are not printable take 256, 257, ... in byte order.
            to_char[b] = maps_to_itself(b) ? b : 256 + n++;
            to_byte[to_char[b]] = static_cast<int>(b);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

char32_t byte_to_char(unsigned char b) {
    return tables().to_char[b];
}

std::optional<unsigned char> char_to_byte(char32_t cp) {
    if (cp >= tables().to_byte.size() || tables().to_byte[cp] < 0) {
        return std::nullopt;
    }
    return static_cast<unsigned char>(tables().to_byte[cp]);
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
