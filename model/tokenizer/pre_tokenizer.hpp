#pragma once
// Hugging Face pre-tokenizers as the DeepSeek tokenizer uses them: a Sequence of Split steps (PCRE2
// regexes, JIT-compiled, Unicode properties) and ByteLevel. Splitting never copies: pieces are
// views into the text being encoded.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace osprey::model {

class RegexSplitStep;

class PreTokenizer {
public:
    // Builds from the "pre_tokenizer" object of tokenizer.json (null means: one piece per segment).
    // Throws std::invalid_argument naming the unsupported type, behaviour or bad regex.
    explicit PreTokenizer(const nlohmann::json& config);
    ~PreTokenizer();
    PreTokenizer(PreTokenizer&&) noexcept;
    PreTokenizer& operator=(PreTokenizer&&) noexcept;

    // Appends the pieces of `text` (valid UTF-8) to `out`, in order; their concatenation is `text`
    // minus any parts a "Removed" split dropped.
    void split(std::string_view text, std::vector<std::string_view>& out) const;

private:
    std::vector<std::unique_ptr<RegexSplitStep>> steps_;
};

// Translates a tokenizer.json (Oniguruma-flavoured) regex to PCRE2 syntax: \uXXXX escapes become
// \x{XXXX}, and \s / \S outside classes use Unicode White_Space exactly (Oniguruma's \s), not
// PCRE2's slightly different set. Exposed for tests.
std::string translate_regex(std::string_view pattern);

}  // namespace osprey::model
