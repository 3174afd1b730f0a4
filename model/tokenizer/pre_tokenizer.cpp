#include "model/tokenizer/pre_tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace osprey::model {
namespace {

// Unicode White_Space, as a PCRE2 class body.
constexpr std::string_view kWhiteSpaceBody =
    "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
    "\\x{205f}\\x{3000}";

// GPT-2's regex, used by ByteLevel when use_regex is true.
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext };

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string escape_literal(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (std::string_view("\\^$.[]|()?*+{}").find(c) != std::string_view::npos) {
            out += '\\';
        }
        out += c;
    }
    return out;
}

}  // namespace

std::string translate_regex(std::string_view p) {
    std::string out;
    bool in_class = false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            const char e = p[i + 1];
            if (e == 'u' && i + 5 < p.size() && is_hex(p[i + 2]) && is_hex(p[i + 3]) &&
                is_hex(p[i + 4]) && is_hex(p[i + 5])) {
                out += "\\x{";
                out.append(p.substr(i + 2, 4));
                out += '}';
                i += 5;
                continue;
            }
            if (e == 's' || e == 'S') {
                if (in_class) {
                    if (e == 's') {
                        out += kWhiteSpaceBody;
                    } else {
                        out += "\\S";  // rare inside a class; PCRE2's own meaning
                    }
                } else {
                    out += e == 's' ? "[" : "[^";
                    out += kWhiteSpaceBody;
                    out += ']';
                }
                ++i;
                continue;
            }
            out += c;
            out += e;
            ++i;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal member.
            if (i + 1 < p.size() && p[i + 1] == '^') {
                out += '^';
                ++i;
            }
            if (i + 1 < p.size() && p[i + 1] == ']') {
                out += ']';
                ++i;
            }
            continue;
        }
        if (in_class && c == ']') {
            in_class = false;
        }
        out += c;
    }
    return out;
}

class RegexSplitStep {
public:
    RegexSplitStep(const std::string& pattern, Behavior behavior) : behavior_(behavior) {
        int error = 0;
        PCRE2_SIZE offset = 0;
        code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
        if (code_ == nullptr) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(error, message, sizeof message);
            throw std::invalid_argument(
                "pre_tokenizer regex does not compile at offset " + std::to_string(offset) + ": " +
                reinterpret_cast<const char*>(message) + " (pattern " + pattern + ")");
        }
        // JIT is an optimisation: when unavailable, pcre2_match interprets.
        pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
    }
    ~RegexSplitStep() { pcre2_code_free(code_); }
    RegexSplitStep(const RegexSplitStep&) = delete;
    RegexSplitStep& operator=(const RegexSplitStep&) = delete;

    void split(std::string_view text, pcre2_match_data* md,
               std::vector<std::string_view>& out) const {
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        std::size_t start = 0;                         // where the next search begins
        std::size_t emitted = 0;                       // end of the text already given to `out`
        std::size_t pending = std::string_view::npos;  // MergedWithNext: start of a held match
        while (start <= text.size()) {
            const int rc =
                pcre2_match(code_, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
            if (rc == PCRE2_ERROR_NOMATCH) {
                break;
            }
            if (rc < 0) {
                PCRE2_UCHAR message[256];
                pcre2_get_error_message(rc, message, sizeof message);
                throw std::runtime_error(std::string("pre_tokenizer regex match failed: ") +
                                         reinterpret_cast<const char*>(message));
            }
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
            const std::size_t ms = ov[0];
            const std::size_t me = ov[1];
            if (me == ms) {
                // Empty match: step over one code point.
                std::size_t next = ms + 1;
                while (next < text.size() &&
                       (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) {
                    ++next;
                }
                start = next;
                continue;
            }
            switch (behavior_) {
                case Behavior::Isolated:
                    if (ms > emitted) {
                        out.push_back(text.substr(emitted, ms - emitted));
                    }
                    out.push_back(text.substr(ms, me - ms));
                    emitted = me;
                    break;
                case Behavior::Removed:
                    if (ms > emitted) {
                        out.push_back(text.substr(emitted, ms - emitted));
                    }
                    emitted = me;
                    break;
                case Behavior::MergedWithPrevious:
                    out.push_back(text.substr(emitted, me - emitted));
                    emitted = me;
                    break;
                case Behavior::MergedWithNext:
                    if (pending != std::string_view::npos) {
                        if (ms > emitted) {
                            out.push_back(text.substr(pending, ms - pending));
                        } else {
                            // Adjacent matches stay together until some non-match follows.
                            emitted = me;
                            start = me;
                            continue;
                        }
                    } else if (ms > emitted) {
                        out.push_back(text.substr(emitted, ms - emitted));
                    }
                    pending = ms;
                    emitted = me;
                    break;
            }
            start = me;
        }
        if (behavior_ == Behavior::MergedWithNext && pending != std::string_view::npos) {
            out.push_back(text.substr(pending));
            return;
        }
        if (emitted < text.size()) {
            out.push_back(text.substr(emitted));
        }
    }

    const pcre2_code* code() const { return code_; }

private:
    pcre2_code* code_ = nullptr;
    Behavior behavior_;
};

namespace {

Behavior parse_behavior(const std::string& name) {
    if (name == "Isolated") {
        return Behavior::Isolated;
    }
    if (name == "Removed") {
        return Behavior::Removed;
    }
    if (name == "MergedWithPrevious") {
        return Behavior::MergedWithPrevious;
    }
    if (name == "MergedWithNext") {
        return Behavior::MergedWithNext;
    }
    throw std::invalid_argument("pre_tokenizer Split behavior '" + name +
                                "' is not supported (Isolated, Removed, MergedWithPrevious, "
                                "MergedWithNext are)");
}

void add_steps(const nlohmann::json& config, std::vector<std::unique_ptr<RegexSplitStep>>& steps) {
    if (config.is_null()) {
        return;
    }
    const std::string type = config.value("type", "");
    if (type == "Sequence") {
        for (const auto& inner : config.at("pretokenizers")) {
            add_steps(inner, steps);
        }
    } else if (type == "Split") {
        if (config.value("invert", false)) {
            throw std::invalid_argument("pre_tokenizer Split with invert=true is not supported");
        }
        const auto& pattern = config.at("pattern");
        std::string regex;
        if (pattern.contains("Regex")) {
            regex = translate_regex(pattern.at("Regex").get<std::string>());
        } else if (pattern.contains("String")) {
            regex = escape_literal(pattern.at("String").get<std::string>());
        } else {
            throw std::invalid_argument("pre_tokenizer Split pattern needs 'Regex' or 'String'");
        }
        steps.push_back(std::make_unique<RegexSplitStep>(
            regex, parse_behavior(config.at("behavior").get<std::string>())));
    } else if (type == "ByteLevel") {
        if (config.value("add_prefix_space", false)) {
            throw std::invalid_argument(
                "pre_tokenizer ByteLevel with add_prefix_space=true is not supported");
        }
        if (config.value("use_regex", true)) {
            steps.push_back(
                std::make_unique<RegexSplitStep>(translate_regex(kGpt2Regex), Behavior::Isolated));
        }
        // The byte mapping itself happens in the BPE model, which works on raw bytes.
    } else {
        throw std::invalid_argument("pre_tokenizer type '" + type +
                                    "' is not supported (Sequence, Split, ByteLevel are)");
    }
}

}  // namespace

PreTokenizer::PreTokenizer(const nlohmann::json& config) {
    add_steps(config, steps_);
}
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
    if (steps_.empty()) {
        if (!text.empty()) {
            out.push_back(text);
        }
        return;
    }
    struct MatchData {
        pcre2_match_data* md;
        ~MatchData() { pcre2_match_data_free(md); }
    };
    // Enough for any of our patterns: the whole match is all we read.
    MatchData data{pcre2_match_data_create(1, nullptr)};
    if (data.md == nullptr) {
        throw std::bad_alloc();
    }
    std::vector<std::string_view> current{text};
    std::vector<std::string_view> next;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
        auto& target = s + 1 == steps_.size() ? out : next;
        for (const auto piece : current) {
            steps_[s]->split(piece, data.md, target);
        }
        if (s + 1 < steps_.size()) {
            current.swap(next);
            next.clear();
        }
    }
}

}  // namespace osprey::model
