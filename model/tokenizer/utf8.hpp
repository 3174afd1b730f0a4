#pragma once
// Small UTF-8 helpers shared by the tokenizer, the streaming decoder and the chat parser.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace osprey::model::utf8 {

// The offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF), or nullopt when `text` is valid UTF-8.
std::optional<std::size_t> first_invalid(std::string_view text);

// Length of the well-formed sequence starting at text[pos]: 1-4, 0 when the bytes there are
// invalid, and -1 when they are a valid but incomplete prefix cut by the end of `text`.
int sequence_length(std::string_view text, std::size_t pos);

// Decodes the code point of a well-formed sequence at text[pos] (see sequence_length).
char32_t decode_at(std::string_view text, std::size_t pos, int length);

// Appends the UTF-8 encoding of `cp` (must be a scalar value).
void append(std::string& out, char32_t cp);

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s accept).
bool is_white_space(char32_t cp);

// Replaces every ill-formed subsequence with U+FFFD, as Rust's String::from_utf8_lossy does
// (one replacement per maximal invalid prefix).
std::string lossy(std::string_view bytes);

}  // namespace osprey::model::utf8
