#pragma once
// Constrained decoding to a JSON schema: a character-level pushdown automaton compiled from a JSON
// schema, walked byte by byte, and a token trie over the tokenizer's byte strings (built once) so
// the set of tokens that keep the output a valid prefix is found in one pass over the trie (a
// rejected byte prunes every token below it). The automaton emits compact JSON (no whitespace),
// object properties in the schema's order (optional ones may be skipped), and keeps a byte budget:
// a token is allowed only if the document can still be closed within `max_bytes`, so every
// generation ends in a document that parses and validates.
//
// Supported schema subset (anything else that restricts values is refused with SchemaError):
// type object (properties, required, additionalProperties false implied), array (items, minItems,
// maxItems), string (minLength, maxLength), integer (minimum 0 or 1), number (minimum 0, maximum 1
// or none), boolean, null, enum and const of JSON literals. Strings use the escapes \" \\ \/ \b
// \f \n \r \t only (no \u), and hold valid UTF-8.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer.hpp"

namespace osprey::model {

class SchemaError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// The compiled schema. Immutable; shared by every state walking it.
class JsonGrammar {
public:
    // Throws SchemaError naming the schema path at fault. Properties are emitted in the schema's
    // order, so pass an ordered_json to choose it (a plain json orders keys alphabetically).
    explicit JsonGrammar(const nlohmann::ordered_json& schema);

    struct Node;
    const Node& node(std::size_t i) const { return *nodes_[i]; }
    std::size_t root() const { return 0; }
    ~JsonGrammar();
    JsonGrammar(JsonGrammar&&) noexcept;

private:
    std::size_t compile(const nlohmann::ordered_json& schema, const std::string& where);
    std::vector<std::unique_ptr<Node>> nodes_;
};

// One position of the automaton: a fixed-size stack of frames (trivially copyable, so copying a
// state is a memcpy of the frames in use).
struct JsonFrame {
    std::uint16_t node = 0;
    std::uint8_t phase = 0;
    std::uint8_t utf8_left = 0;                   // continuation bytes still due in a string
    std::uint8_t utf8_lo = 0x80, utf8_hi = 0xBF;  // range of the next continuation byte
    std::uint16_t index = 0;  // object: next property; literal: position; array: items so far
    std::uint32_t count = 0;  // string: characters; number: digits
    std::uint64_t alive = 0;  // literal / key candidates still matching
};

class JsonState {
public:
    static constexpr std::size_t kMaxDepth = 24;
    explicit JsonState(const JsonGrammar& grammar);

    // Advances by one byte; false (state unspecified) when the byte would make the output invalid.
    bool step(unsigned char byte);
    bool step(std::string_view bytes);
    // The document is complete (nothing more may follow).
    bool done() const { return done_; }
    // Bytes consumed so far.
    std::uint32_t bytes() const { return bytes_; }
    // The fewest bytes that complete the document from here (0 when done).
    std::uint32_t min_completion() const;
    // Copies only the frames in use.
    void assign(const JsonState& other);

    // Inside a string's body (no escape or UTF-8 sequence pending): how many characters may
    // still be added, how many are still required (minLength), and the minimal completion now.
    struct StringRoom {
        std::uint32_t chars_left = 0;
        std::uint32_t chars_needed = 0;
        std::uint32_t min_completion = 0;
    };
    std::optional<StringRoom> string_room() const;

private:
    bool feed(unsigned char byte);
    bool start_value(std::uint16_t node, unsigned char byte);
    std::uint32_t frame_cost(const JsonFrame& f, bool innermost) const;

    const JsonGrammar* grammar_;
    std::uint32_t bytes_ = 0;
    std::uint8_t depth_ = 0;
    bool done_ = false;
    std::array<JsonFrame, kMaxDepth> frames_{};
};

// The tokenizer's byte strings in a preorder trie (special and added tokens left out).
class TokenTrie {
public:
    explicit TokenTrie(const Tokenizer& tokenizer);
    std::size_t vocab_size() const { return vocab_size_; }
    std::string_view bytes(std::int32_t id) const;
    bool usable(std::int32_t id) const;
    // Characters of a token that is plain string content (no quote, backslash or control byte;
    // whole UTF-8 sequences only), else -1.
    std::int32_t plain_chars(std::int32_t id) const { return plain_[static_cast<std::size_t>(id)]; }
    // The usable tokens that are not plain string content.
    const std::vector<std::int32_t>& non_plain() const { return non_plain_; }

    struct Node {
        std::uint32_t end = 0;                           // one past this node's subtree (preorder)
        std::uint32_t first_token = 0, token_count = 0;  // into tokens_
        std::uint16_t depth = 0;                         // 1 for the root's children
        unsigned char byte = 0;
    };
    const std::vector<Node>& nodes() const { return nodes_; }
    std::span<const std::int32_t> tokens_at(const Node& n) const {
        return {tokens_.data() + n.first_token, n.token_count};
    }
    std::size_t max_depth() const { return max_depth_; }

private:
    std::size_t vocab_size_ = 0;
    std::vector<std::string> strings_;  // by id; empty when unusable
    std::vector<std::int32_t> plain_;   // by id
    std::vector<std::int32_t> non_plain_;
    std::vector<Node> nodes_;
    std::vector<std::int32_t> tokens_;
    std::size_t max_depth_ = 0;
};

// A generation constrained to a schema within a byte budget.
class JsonConstraint {
public:
    JsonConstraint(std::shared_ptr<const JsonGrammar> grammar,
                   std::shared_ptr<const TokenTrie> trie, std::uint32_t max_bytes);

    // allowed[id] = 1 for every token that keeps the output a valid, completable prefix (the
    // trie walk). `allowed` is resized to the vocabulary.
    void allowed_tokens(std::vector<std::uint8_t>& allowed) const;
    // The same by walking every token separately (the reference for tests).
    void allowed_tokens_reference(std::vector<std::uint8_t>& allowed) const;
    // Whether `id` would be allowed now (one token's walk).
    bool allows(std::int32_t id) const;
    // Takes `id`; throws std::logic_error when it is not allowed.
    void accept(std::int32_t id);
    bool done() const { return state_.done(); }
    const std::string& text() const { return text_; }
    std::uint32_t max_bytes() const { return max_bytes_; }

private:
    std::shared_ptr<const JsonGrammar> grammar_;
    std::shared_ptr<const TokenTrie> trie_;
    std::uint32_t max_bytes_;
    JsonState state_;
    std::string text_;
};

}  // namespace osprey::model
