#pragma once
// The DeepSeek-V4 tokenizer: loads a Hugging Face tokenizer.json (byte-level BPE, Split
// pre-tokenizers, ByteLevel, added tokens with their lstrip/rstrip/single_word flags) and
// optionally tokenizer_config.json; encodes and decodes exactly as Hugging Face tokenizers does.
// Encoding never adds BOS/EOS: the chat encoder writes them as text.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/tokenizer/bpe.hpp"

namespace osprey::model {

struct AddedToken {
    std::string content;
    TokenId id = 0;
    bool special = false;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
    bool normalized = false;
};

class Tokenizer {
public:
    // `path` is a tokenizer.json file or a folder holding one; tokenizer_config.json beside it is
    // read when present. Throws std::runtime_error naming the file and what is wrong with it.
    static Tokenizer load(const std::filesystem::path& path);
    // From parsed JSON; `config` may be null.
    static Tokenizer from_json(const nlohmann::json& tokenizer, const nlohmann::json* config);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // Ids for `text` (must be valid UTF-8; throws std::invalid_argument naming the byte offset).
    std::vector<TokenId> encode(std::string_view text) const;
    // The same with the plain reference BPE and no cache (for tests and fuzzing).
    std::vector<TokenId> encode_reference(std::string_view text) const;

    // Text for `ids`; invalid UTF-8 becomes U+FFFD (as Hugging Face's lossy decode). Ids that name
    // no token are skipped, as Hugging Face does; check with `contains`.
    std::string decode(std::span<const TokenId> ids) const;
    // The raw bytes one token stands for (added tokens: their content). Empty for unknown ids.
    std::string_view token_bytes(TokenId id) const;

    bool contains(TokenId id) const;
    // The id of an added token or a vocabulary string (byte-level spelling), if any.
    std::optional<TokenId> token_id(std::string_view token) const;
    // One past the largest id.
    std::size_t id_limit() const;
    const std::vector<AddedToken>& added_tokens() const;
    bool is_special(TokenId id) const;

    // From tokenizer_config.json (defaults: BOS id 0 / EOS id 1 when the file is absent).
    std::optional<TokenId> bos_id() const;
    std::optional<TokenId> eos_id() const;
    bool add_bos_token() const;

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::vector<TokenId> encode_with(std::string_view text, bool reference) const;
    std::unique_ptr<Impl> impl_;
};

// Streaming decode for generation: push ids one at a time, get back only complete UTF-8 (partial
// multi-byte sequences are held until they complete, or become U+FFFD when they cannot).
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}
    std::string push(TokenId id);
    // Appends raw bytes directly (e.g. from an already decoded token).
    std::string push_bytes(std::string_view bytes);
    // Flushes whatever is held (an incomplete sequence becomes U+FFFD).
    std::string finish();
    std::size_t pending_bytes() const { return pending_.size(); }

private:
    const Tokenizer* tokenizer_;
    std::string pending_;
};

}  // namespace osprey::model
