#include "model/tokenizer/bpe.hpp"

#include <algorithm>
#include <stdexcept>

#include "model/tokenizer/byte_level.hpp"

namespace osprey::model {

BpeModel::BpeModel(const std::vector<std::pair<std::string, TokenId>>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   bool ignore_merges)
    : ignore_merges_(ignore_merges) {
    std::unordered_map<std::string, TokenId> ids;
    ids.reserve(vocab.size());
    for (const auto& [piece, id] : vocab) {
        ids.emplace(piece, id);
        if (ignore_merges_) {
            word_ids_.emplace(byte_level_decode(piece), id);
        }
    }
    for (unsigned b = 0; b < 256; ++b) {
        std::string piece;
        piece = byte_level_encode(std::string(1, static_cast<char>(b)));
        const auto it = ids.find(piece);
        if (it == ids.end()) {
            throw std::invalid_argument("byte-level BPE vocabulary has no token for byte " +
                                        std::to_string(b) + " ('" + piece + "')");
        }
        byte_ids_[b] = it->second;
    }
    merges_.reserve(merges.size() * 2);
    std::int32_t rank = 0;
    for (const auto& [a, b] : merges) {
        const auto ia = ids.find(a);
        const auto ib = ids.find(b);
        const auto ir = ids.find(a + b);
        if (ia == ids.end() || ib == ids.end() || ir == ids.end()) {
            throw std::invalid_argument("merge " + std::to_string(rank) + " ('" + a + " " + b +
                                        "') uses a token missing from the vocabulary");
        }
        // The first (lowest-rank) definition of a pair wins, as in Hugging Face.
        merges_.emplace(key(ia->second, ib->second), Merge{rank, ir->second});
        ++rank;
    }
}

const BpeModel::Merge* BpeModel::find_merge(TokenId a, TokenId b) const {
    const auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
    if (word.size() == 1) {
        out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
        return;
    }
    if (word.empty()) {
        return;
    }
    const bool cacheable = word.size() <= kMaxCachedWord;
    if (cacheable) {
        std::lock_guard lock(cache_->mutex);
        const auto it = cache_->words.find(word);
        if (it != cache_->words.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    merge_word(word, out);
    if (cacheable) {
        std::lock_guard lock(cache_->mutex);
        if (cache_->words.size() >= kCacheCapacity) {
            cache_->words.clear();
        }
        cache_->words.emplace(
            std::string(word),
            std::vector<TokenId>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
    }
}

void BpeModel::merge_word(std::string_view word, std::vector<TokenId>& out) const {
    if (ignore_merges_) {
        if (const auto it = word_ids_.find(word); it != word_ids_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    // Symbols in a doubly linked list; candidate merges in a min-heap ordered by (rank, position).
    // Entries made stale by an earlier merge are recognised and skipped when popped.
    const int n = static_cast<int>(word.size());
    std::vector<TokenId> id(static_cast<std::size_t>(n));
    std::vector<int> prev(static_cast<std::size_t>(n));
    std::vector<int> next(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        id[static_cast<std::size_t>(i)] =
            byte_ids_[static_cast<unsigned char>(word[static_cast<std::size_t>(i)])];
        prev[static_cast<std::size_t>(i)] = i - 1;
        next[static_cast<std::size_t>(i)] = i + 1 < n ? i + 1 : -1;
    }
    struct Candidate {
        std::int32_t rank;
        int pos;
        TokenId left;
        TokenId right;
        TokenId result;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    std::vector<Candidate> heap;
    heap.reserve(static_cast<std::size_t>(n));
    const auto push = [&](int pos) {
        const int nx = next[static_cast<std::size_t>(pos)];
        if (nx < 0) {
            return;
        }
        const TokenId a = id[static_cast<std::size_t>(pos)];
        const TokenId b = id[static_cast<std::size_t>(nx)];
        if (const Merge* m = find_merge(a, b)) {
            heap.push_back({m->rank, pos, a, b, m->result});
            std::push_heap(heap.begin(), heap.end(), std::greater<>());
        }
    };
    for (int i = 0; i + 1 < n; ++i) {
        push(i);
    }
    std::vector<bool> alive(static_cast<std::size_t>(n), true);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>());
        const Candidate c = heap.back();
        heap.pop_back();
        const auto p = static_cast<std::size_t>(c.pos);
        if (!alive[p] || id[p] != c.left) {
            continue;
        }
        const int nx = next[p];
        if (nx < 0 || id[static_cast<std::size_t>(nx)] != c.right) {
            continue;
        }
        id[p] = c.result;
        alive[static_cast<std::size_t>(nx)] = false;
        next[p] = next[static_cast<std::size_t>(nx)];
        if (next[p] >= 0) {
            prev[static_cast<std::size_t>(next[p])] = c.pos;
        }
        if (prev[p] >= 0) {
            push(prev[p]);
        }
        push(c.pos);
    }
    for (int i = 0; i >= 0; i = next[static_cast<std::size_t>(i)]) {
        out.push_back(id[static_cast<std::size_t>(i)]);
    }
}

void BpeModel::encode_word_reference(std::string_view word, std::vector<TokenId>& out) const {
    if (ignore_merges_) {
        if (const auto it = word_ids_.find(word); it != word_ids_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    std::vector<TokenId> ids;
    for (const char c : word) {
        ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
    }
    while (ids.size() > 1) {
        std::size_t best = ids.size();
        const Merge* best_merge = nullptr;
        for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
            const Merge* m = find_merge(ids[i], ids[i + 1]);
            if (m != nullptr && (best_merge == nullptr || m->rank < best_merge->rank)) {
                best = i;
                best_merge = m;
            }
        }
        if (best_merge == nullptr) {
            break;
        }
        ids[best] = best_merge->result;
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace osprey::model
