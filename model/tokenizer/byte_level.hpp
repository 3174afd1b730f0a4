#pragma once
// GPT-2 byte-level mapping: every byte is shown as a printable code point in vocab strings
// (Hugging Face's ByteLevel pre-tokenizer and decoder).

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace osprey::model {

// The code point that stands for byte `b` in a byte-level vocabulary.
char32_t byte_to_char(unsigned char b);

// The byte a vocabulary code point stands for, or nullopt for a code point outside the mapping.
std::optional<unsigned char> char_to_byte(char32_t cp);

// Raw bytes of a vocabulary string as the ByteLevel decoder gives them: every code point mapped
// back to its byte, or, when any code point has no byte (added tokens such as "<｜User｜>"), the
// string's own UTF-8 bytes unchanged.
std::string byte_level_decode(std::string_view token);

// The byte-level (vocabulary) spelling of raw bytes.
std::string byte_level_encode(std::string_view bytes);

}  // namespace osprey::model
