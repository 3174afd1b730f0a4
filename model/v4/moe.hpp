#pragma once
// The V4 MoE layer (spec §6): sqrt(softplus) router scores, hash routing (tid2eid) on the first
// layers and bias-only top-k selection elsewhere, renormalised and scaled weights, clamped SwiGLU
// experts reading only the selected experts' weights, plus the shared expert.

#include <cstdint>
#include <vector>

#include "model/v4/ops.hpp"
#include "model/weights.hpp"

namespace osprey::model::v4 {

struct Routing {
    std::vector<std::int64_t> experts;  // [tokens, k]
    std::vector<float> weights;         // [tokens, k]
};

Routing moe_route(const Ctx& ctx, const MoeWeights& w, bool hash_routed, const float* x,
                  const std::int32_t* token_ids, std::int64_t tokens);

// x [tokens, D] (ffn_norm output) → out [tokens, D].
void moe_forward(const Ctx& ctx, const MoeWeights& w, bool hash_routed, const float* x,
                 const std::int32_t* token_ids, std::int64_t tokens, float* out);

}  // namespace osprey::model::v4
