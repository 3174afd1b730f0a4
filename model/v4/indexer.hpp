#pragma once
// The lightning indexer of CSA layers (spec §5.4): per query token a set of index heads scores
// every visible compressed row, score(j) = Σ_h w_h · relu(q_h · k_j), and the top-k rows are
// attended.

#include <cstdint>
#include <vector>

#include "model/v4/ops.hpp"
#include "model/v4/state.hpp"
#include "model/weights.hpp"

namespace osprey::model::v4 {

// Index queries qI [tokens, nI, dI] (rope, Hadamard, FP4 grid in exact mode) and head weights
// w [tokens, nI], from c_q [tokens, q_lora] and x [tokens, D].
void indexer_queries(const Ctx& ctx, const IndexerWeights& iw, const float* c_q, const float* x,
                     std::int64_t tokens, std::int64_t p0, const std::vector<float>& freqs,
                     std::vector<float>& q, std::vector<float>& w);

// The rows to attend among [0, keys.n_rows): all of them when there are at most top_k, else the
// top_k best scores (ties to the lower row index). Appends to `selected`.
void indexer_select(const Ctx& ctx, const float* q, const float* w, const CompressorState& keys,
                    std::int64_t top_k, std::vector<std::int64_t>& selected);

}  // namespace osprey::model::v4
