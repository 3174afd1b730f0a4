#include "model/tokenizer/utf8.hpp"

namespace osprey::model::utf8 {

int sequence_length(std::string_view text, std::size_t pos) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char b0 = byte(pos);
    if (b0 < 0x80) {
        return 1;
    }
    int need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) {
            lo = 0xA0;
        } else if (b0 == 0xED) {
            hi = 0x9F;  // no surrogates
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) {
            lo = 0x90;
        } else if (b0 == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    for (int k = 1; k <= need; ++k) {
        if (pos + static_cast<std::size_t>(k) >= text.size()) {
            return -1;
        }
        const unsigned char b = byte(pos + static_cast<std::size_t>(k));
        const unsigned char l = k == 1 ? lo : 0x80;
        const unsigned char h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            return 0;
        }
    }
    return need + 1;
}

std::optional<std::size_t> first_invalid(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        const int n = sequence_length(text, i);
        if (n <= 0) {
            return i;
        }
        i += static_cast<std::size_t>(n);
    }
    return std::nullopt;
}

char32_t decode_at(std::string_view text, std::size_t pos, int length) {
    const auto b = [&](int k) {
        return static_cast<char32_t>(
            static_cast<unsigned char>(text[pos + static_cast<std::size_t>(k)]));
    };
    switch (length) {
        case 1:
            return b(0);
        case 2:
            return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
        case 3:
            return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        default:
            return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) |
                   (b(3) & 0x3F);
    }
}

void append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool is_white_space(char32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

std::string lossy(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t i = 0;
    while (i < bytes.size()) {
        const int n = sequence_length(bytes, i);
        if (n > 0) {
            out.append(bytes.substr(i, static_cast<std::size_t>(n)));
            i += static_cast<std::size_t>(n);
            continue;
        }
        // Maximal invalid prefix: the lead byte plus the continuation bytes that were still valid.
        std::size_t skip = 1;
        const unsigned char b0 = static_cast<unsigned char>(bytes[i]);
        if (b0 >= 0xC2 && b0 <= 0xF4) {
            for (std::size_t k = i + 1; k < bytes.size() && k < i + 4; ++k) {
                const std::string_view probe(bytes.data() + i, k - i + 1);
                if (sequence_length(probe, 0) == -1) {
                    skip = k - i + 1;
                } else {
                    break;
                }
            }
            // The prefix bytes up to (not including) the offending byte form one replacement.
            if (n == -1) {
                skip = bytes.size() - i;
            }
        }
        out += "\xEF\xBF\xBD";
        i += skip;
    }
    return out;
}

}  // namespace osprey::model::utf8
