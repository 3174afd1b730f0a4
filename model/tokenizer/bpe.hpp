#pragma once
// Byte-level BPE: merges applied by rank (lowest first, leftmost among equals), as Hugging Face's
// BPE model does. Works on raw bytes; ids come from the byte-level vocabulary.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace osprey::model {

using TokenId = std::int32_t;

class BpeModel {
public:
    // `vocab` maps byte-level vocabulary strings to ids; `merges` are pairs of vocabulary strings
    // in rank order. Throws std::invalid_argument naming the first merge or byte the vocabulary
    // lacks.
    BpeModel(const std::vector<std::pair<std::string, TokenId>>& vocab,
             const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges);

    // Appends the ids of one pre-tokenized word (raw bytes). Uses a bounded cache of recent words.
    void encode_word(std::string_view word, std::vector<TokenId>& out) const;
    // The same without cache or heap: a plain O(n^2) scan kept as the reference the fast path is
    // tested against.
    void encode_word_reference(std::string_view word, std::vector<TokenId>& out) const;

    std::size_t merge_count() const { return merges_.size(); }

private:
    struct Merge {
        std::int32_t rank;
        TokenId result;
    };
    static std::uint64_t key(TokenId a, TokenId b) {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
               static_cast<std::uint32_t>(b);
    }
    const Merge* find_merge(TokenId a, TokenId b) const;
    void merge_word(std::string_view word, std::vector<TokenId>& out) const;

    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::array<TokenId, 256> byte_ids_{};
    std::unordered_map<std::uint64_t, Merge> merges_;
    // Raw bytes -> id, used when ignore_merges is set (a whole word found in the vocab wins).
    std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> word_ids_;
    bool ignore_merges_ = false;

    struct Cache {
        std::mutex mutex;
        std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> words;
    };
    static constexpr std::size_t kCacheCapacity = 1 << 16;
    static constexpr std::size_t kMaxCachedWord = 256;
    std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace osprey::model
