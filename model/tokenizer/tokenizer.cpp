#include "model/tokenizer/tokenizer.hpp"

#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "model/tokenizer/byte_level.hpp"
#include "model/tokenizer/pre_tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"

namespace osprey::model {
namespace {

// Leftmost-longest matcher over a set of added tokens (a byte trie; few tokens, short keys).
class AddedTokenMatcher {
public:
    void add(std::string_view content, std::size_t token_index) {
        if (content.empty()) {
            return;
        }
        int node = 0;
        for (const char c : content) {
            const auto b = static_cast<unsigned char>(c);
            int child = find_child(node, b);
            if (child < 0) {
                child = static_cast<int>(nodes_.size());
                nodes_.push_back({});
                nodes_[static_cast<std::size_t>(node)].children.push_back({b, child});
            }
            node = child;
        }
        nodes_[static_cast<std::size_t>(node)].token = static_cast<int>(token_index);
        first_[static_cast<unsigned char>(content[0])] = true;
    }
    bool empty() const { return nodes_.size() == 1; }

    // The longest token starting at `pos`: (token index, length), or token index -1.
    std::pair<int, std::size_t> longest_at(std::string_view text, std::size_t pos) const {
        if (!first_[static_cast<unsigned char>(text[pos])]) {
            return {-1, 0};
        }
        int node = 0;
        std::pair<int, std::size_t> best{-1, 0};
        for (std::size_t i = pos; i < text.size(); ++i) {
            node = find_child(node, static_cast<unsigned char>(text[i]));
            if (node < 0) {
                break;
            }
            if (nodes_[static_cast<std::size_t>(node)].token >= 0) {
                best = {nodes_[static_cast<std::size_t>(node)].token, i + 1 - pos};
            }
        }
        return best;
    }

private:
    struct Node {
        std::vector<std::pair<unsigned char, int>> children;
        int token = -1;
    };
    int find_child(int node, unsigned char b) const {
        for (const auto& [c, child] : nodes_[static_cast<std::size_t>(node)].children) {
            if (c == b) {
                return child;
            }
        }
        return -1;
    }
    std::vector<Node> nodes_{Node{}};
    std::array<bool, 256> first_{};
};

bool is_word_char_before(std::string_view text, std::size_t end) {
    if (end == 0) {
        return false;
    }
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
        --start;
    }
    const int n = utf8::sequence_length(text, start);
    const char32_t cp = utf8::decode_at(text, start, n);
    if (cp < 0x80) {
        return std::isalnum(static_cast<int>(cp)) != 0 || cp == '_';
    }
    return !utf8::is_white_space(cp);
}

bool is_word_char_after(std::string_view text, std::size_t start) {
    if (start >= text.size()) {
        return false;
    }
    const int n = utf8::sequence_length(text, start);
    const char32_t cp = utf8::decode_at(text, start, n);
    if (cp < 0x80) {
        return std::isalnum(static_cast<int>(cp)) != 0 || cp == '_';
    }
    return !utf8::is_white_space(cp);
}

std::optional<std::string> token_text(const nlohmann::json& value) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_object() && value.contains("content")) {
        return value.at("content").get<std::string>();
    }
    return std::nullopt;
}

}  // namespace

struct Tokenizer::Impl {
    std::unique_ptr<BpeModel> bpe;
    std::unique_ptr<PreTokenizer> pre;
    std::vector<AddedToken> added;
    AddedTokenMatcher raw_matcher;         // added tokens with normalized=false
    AddedTokenMatcher normalized_matcher;  // normalized=true (no normalizer: same text)
    std::vector<std::string> id_bytes;
    std::vector<std::uint8_t> known;
    std::vector<std::uint8_t> special;
    std::unordered_map<std::string, TokenId> piece_ids;  // vocab strings and added contents
    std::optional<TokenId> bos;
    std::optional<TokenId> eos;
    bool add_bos = false;

    struct Segment {
        std::size_t begin;
        std::size_t end;
        int token;  // index into `added`, or -1 for text to pre-tokenize
    };

    void split_added(std::string_view text, std::size_t base, const AddedTokenMatcher& matcher,
                     std::vector<Segment>& out) const {
        if (matcher.empty()) {
            out.push_back({base, base + text.size(), -1});
            return;
        }
        std::size_t start_offset = 0;
        std::size_t i = 0;
        while (i < text.size()) {
            const auto [index, length] = matcher.longest_at(text, i);
            if (index < 0) {
                ++i;
                continue;
            }
            std::size_t start = i;
            std::size_t stop = i + length;
            const AddedToken& tok = added[static_cast<std::size_t>(index)];
            if (tok.single_word &&
                (is_word_char_before(text, start) || is_word_char_after(text, stop))) {
                ++i;
                continue;
            }
            if (tok.lstrip) {
                while (start > start_offset) {
                    std::size_t p = start - 1;
                    while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) {
                        --p;
                    }
                    const int n = utf8::sequence_length(text, p);
                    if (!utf8::is_white_space(utf8::decode_at(text, p, n))) {
                        break;
                    }
                    start = p;
                }
            }
            if (tok.rstrip) {
                while (stop < text.size()) {
                    const int n = utf8::sequence_length(text, stop);
                    if (!utf8::is_white_space(utf8::decode_at(text, stop, n))) {
                        break;
                    }
                    stop += static_cast<std::size_t>(n);
                }
            }
            if (start > start_offset) {
                out.push_back({base + start_offset, base + start, -1});
            }
            out.push_back({base + start, base + stop, index});
            start_offset = stop;
            i = stop;
        }
        if (start_offset < text.size()) {
            out.push_back({base + start_offset, base + text.size(), -1});
        }
    }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
    std::filesystem::path file = path;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        file = path / "tokenizer.json";
    }
    const auto read_json = [](const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        if (!in) {
            throw std::runtime_error("cannot read tokenizer file " + p.string());
        }
        try {
            return nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            throw std::runtime_error(p.string() + " is not valid JSON: " + e.what());
        }
    };
    const nlohmann::json tokenizer = read_json(file);
    const auto config_path = file.parent_path() / "tokenizer_config.json";
    std::optional<nlohmann::json> config;
    if (std::filesystem::exists(config_path, ec)) {
        config = read_json(config_path);
    }
    try {
        return from_json(tokenizer, config ? &*config : nullptr);
    } catch (const std::exception& e) {
        throw std::runtime_error(file.string() + ": " + e.what());
    }
}

Tokenizer Tokenizer::from_json(const nlohmann::json& tok, const nlohmann::json* config) {
    auto impl = std::make_unique<Impl>();
    if (!tok.is_object() || !tok.contains("model")) {
        throw std::invalid_argument("not a Hugging Face tokenizer.json (no \"model\" object)");
    }
    const auto& model = tok.at("model");
    if (model.value("type", "BPE") != "BPE") {
        throw std::invalid_argument("model type '" + model.value("type", "") +
                                    "' is not supported (BPE is)");
    }
    const auto empty_or_null = [&](const char* key) {
        return !model.contains(key) || model.at(key).is_null() ||
               (model.at(key).is_string() && model.at(key).get<std::string>().empty());
    };
    if (!empty_or_null("dropout") || !empty_or_null("continuing_subword_prefix") ||
        !empty_or_null("end_of_word_suffix") || model.value("byte_fallback", false)) {
        throw std::invalid_argument(
            "BPE options dropout/continuing_subword_prefix/end_of_word_suffix/byte_fallback are "
            "not supported");
    }
    if (tok.contains("normalizer") && !tok.at("normalizer").is_null()) {
        const auto& n = tok.at("normalizer");
        if (!(n.value("type", "") == "Sequence" &&
              n.value("normalizers", nlohmann::json::array()).empty())) {
            throw std::invalid_argument("normalizer '" + n.dump() + "' is not supported");
        }
    }
    if (tok.contains("decoder") && !tok.at("decoder").is_null() &&
        tok.at("decoder").value("type", "") != "ByteLevel") {
        throw std::invalid_argument("decoder type '" + tok.at("decoder").value("type", "") +
                                    "' is not supported (ByteLevel is)");
    }

    std::vector<std::pair<std::string, TokenId>> vocab;
    vocab.reserve(model.at("vocab").size());
    TokenId max_id = -1;
    for (const auto& [piece, id] : model.at("vocab").items()) {
        const TokenId value = id.get<TokenId>();
        if (value < 0) {
            throw std::invalid_argument("vocab entry '" + piece + "' has a negative id");
        }
        vocab.emplace_back(piece, value);
        max_id = std::max(max_id, value);
    }
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(model.at("merges").size());
    for (const auto& m : model.at("merges")) {
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const auto space = s.find(' ');
            if (space == std::string::npos) {
                throw std::invalid_argument("merge '" + s +
                                            "' is not two tokens separated by a space");
            }
            merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (m.is_array() && m.size() == 2) {
            merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            throw std::invalid_argument("merge entry " + m.dump() +
                                        " is neither \"a b\" nor [a, b]");
        }
    }
    impl->bpe = std::make_unique<BpeModel>(vocab, merges, model.value("ignore_merges", false));
    impl->pre = std::make_unique<PreTokenizer>(tok.value("pre_tokenizer", nlohmann::json()));

    if (tok.contains("added_tokens")) {
        for (const auto& t : tok.at("added_tokens")) {
            AddedToken a;
            a.content = t.at("content").get<std::string>();
            a.id = t.at("id").get<TokenId>();
            a.special = t.value("special", false);
            a.lstrip = t.value("lstrip", false);
            a.rstrip = t.value("rstrip", false);
            a.single_word = t.value("single_word", false);
            a.normalized = t.value("normalized", !a.special);
            if (a.id < 0) {
                throw std::invalid_argument("added token '" + a.content + "' has a negative id");
            }
            if (utf8::first_invalid(a.content)) {
                throw std::invalid_argument("added token " + std::to_string(a.id) +
                                            " is not valid UTF-8");
            }
            max_id = std::max(max_id, a.id);
            impl->added.push_back(std::move(a));
        }
    }
    const auto limit = static_cast<std::size_t>(max_id + 1);
    impl->id_bytes.assign(limit, std::string());
    impl->known.assign(limit, 0);
    impl->special.assign(limit, 0);
    for (const auto& [piece, id] : vocab) {
        impl->id_bytes[static_cast<std::size_t>(id)] = byte_level_decode(piece);
        impl->known[static_cast<std::size_t>(id)] = 1;
        impl->piece_ids.emplace(piece, id);
    }
    for (std::size_t i = 0; i < impl->added.size(); ++i) {
        const AddedToken& a = impl->added[i];
        const auto id = static_cast<std::size_t>(a.id);
        impl->id_bytes[id] = byte_level_decode(a.content);
        impl->known[id] = 1;
        impl->special[id] = a.special ? 1 : 0;
        impl->piece_ids[a.content] = a.id;
        (a.normalized ? impl->normalized_matcher : impl->raw_matcher).add(a.content, i);
    }

    if (config != nullptr) {
        const auto lookup = [&](const char* key) -> std::optional<TokenId> {
            if (!config->contains(key)) {
                return std::nullopt;
            }
            const auto text = token_text(config->at(key));
            if (!text) {
                return std::nullopt;
            }
            const auto it = impl->piece_ids.find(*text);
            if (it == impl->piece_ids.end()) {
                throw std::invalid_argument(std::string("tokenizer_config.json ") + key + " '" +
                                            *text + "' is not a token");
            }
            return it->second;
        };
        impl->bos = lookup("bos_token");
        impl->eos = lookup("eos_token");
        impl->add_bos = config->value("add_bos_token", false);
    } else {
        const auto find = [&](const char* text) -> std::optional<TokenId> {
            const auto it = impl->piece_ids.find(text);
            return it == impl->piece_ids.end() ? std::nullopt : std::optional<TokenId>(it->second);
        };
        impl->bos = find("<｜begin▁of▁sentence｜>");
        impl->eos = find("<｜end▁of▁sentence｜>");
    }
    return Tokenizer(std::move(impl));
}

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
    return encode_with(text, false);
}

std::vector<TokenId> Tokenizer::encode_reference(std::string_view text) const {
    return encode_with(text, true);
}

std::vector<TokenId> Tokenizer::encode_with(std::string_view text, bool reference) const {
    if (const auto bad = utf8::first_invalid(text)) {
        throw std::invalid_argument("text to tokenize is not valid UTF-8 (byte offset " +
                                    std::to_string(*bad) + ")");
    }
    std::vector<TokenId> ids;
    ids.reserve(text.size() / 3 + 4);
    std::vector<Impl::Segment> raw;
    impl_->split_added(text, 0, impl_->raw_matcher, raw);
    std::vector<Impl::Segment> segments;
    std::vector<std::string_view> pieces;
    for (const auto& r : raw) {
        if (r.token >= 0) {
            ids.push_back(impl_->added[static_cast<std::size_t>(r.token)].id);
            continue;
        }
        segments.clear();
        impl_->split_added(text.substr(r.begin, r.end - r.begin), r.begin,
                           impl_->normalized_matcher, segments);
        for (const auto& s : segments) {
            if (s.token >= 0) {
                ids.push_back(impl_->added[static_cast<std::size_t>(s.token)].id);
                continue;
            }
            pieces.clear();
            impl_->pre->split(text.substr(s.begin, s.end - s.begin), pieces);
            for (const auto piece : pieces) {
                if (reference) {
                    impl_->bpe->encode_word_reference(piece, ids);
                } else {
                    impl_->bpe->encode_word(piece, ids);
                }
            }
        }
    }
    return ids;
}

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
    std::string bytes;
    for (const TokenId id : ids) {
        bytes += token_bytes(id);
    }
    if (!utf8::first_invalid(bytes)) {
        return bytes;
    }
    return utf8::lossy(bytes);
}

std::string_view Tokenizer::token_bytes(TokenId id) const {
    if (!contains(id)) {
        return {};
    }
    return impl_->id_bytes[static_cast<std::size_t>(id)];
}

bool Tokenizer::contains(TokenId id) const {
    return id >= 0 && static_cast<std::size_t>(id) < impl_->known.size() &&
           impl_->known[static_cast<std::size_t>(id)] != 0;
}

std::optional<TokenId> Tokenizer::token_id(std::string_view token) const {
    const auto it = impl_->piece_ids.find(std::string(token));
    if (it == impl_->piece_ids.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::size_t Tokenizer::id_limit() const {
    return impl_->known.size();
}
const std::vector<AddedToken>& Tokenizer::added_tokens() const {
    return impl_->added;
}
bool Tokenizer::is_special(TokenId id) const {
    return contains(id) && impl_->special[static_cast<std::size_t>(id)] != 0;
}
std::optional<TokenId> Tokenizer::bos_id() const {
    return impl_->bos;
}
std::optional<TokenId> Tokenizer::eos_id() const {
    return impl_->eos;
}
bool Tokenizer::add_bos_token() const {
    return impl_->add_bos;
}

std::string StreamDecoder::push(TokenId id) {
    return push_bytes(tokenizer_->token_bytes(id));
}

std::string StreamDecoder::push_bytes(std::string_view bytes) {
    pending_.append(bytes);
    // Emit everything except a trailing valid-but-incomplete sequence.
    std::size_t keep_from = pending_.size();
    std::size_t i = 0;
    while (i < pending_.size()) {
        const int n = utf8::sequence_length(pending_, i);
        if (n == -1) {
            keep_from = i;
            break;
        }
        i += n > 0 ? static_cast<std::size_t>(n) : 1;
    }
    std::string out = utf8::lossy(std::string_view(pending_).substr(0, keep_from));
    pending_.erase(0, keep_from);
    return out;
}

std::string StreamDecoder::finish() {
    std::string out = utf8::lossy(pending_);
    pending_.clear();
    return out;
}

}  // namespace osprey::model
