#pragma once
// One V4 attention layer (spec §5): low-rank query with per-head RMS, a single shared KV vector
// per token, sliding window + compressed rows (HCA: all, CSA: indexer top-k), attention sink,
// inverse RoPE and the grouped low-rank output projection. Tokens are processed in order so a
// chunk of any size sees exactly what one-token-at-a-time decoding sees.

#include <cstdint>
#include <vector>

#include "model/v4/ops.hpp"
#include "model/v4/state.hpp"
#include "model/weights.hpp"

namespace osprey::model::v4 {

struct RopeTables {
    std::vector<float> plain;       // sliding-window layers
    std::vector<float> compressed;  // compressed layers (YaRN)
};

void attention_init_state(const ModelConfig& cfg, const AttentionWeights& w, LayerState& state,
                          std::int64_t margin);

// x [tokens, D] (attn_norm output) at positions p0.. → out [tokens, D].
void attention_forward(const Ctx& ctx, const AttentionWeights& w, std::int64_t ratio,
                       const RopeTables& rope, LayerState& state, const float* x,
                       std::int64_t tokens, std::int64_t p0, float* out);

// Softmax attention of one query over keys (each key is also the value) with a sink logit;
// `exact` rounds probabilities to bf16 per 64-key block as the reference kernel does.
void attend_one(const float* q, const std::vector<const float*>& keys, std::int64_t dim,
                float scale, float sink, bool exact, float* out);

}  // namespace osprey::model::v4
