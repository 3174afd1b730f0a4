#pragma once
// Manifold-constrained hyper-connections (spec §4): HCPre mixes the hc residual streams into one
// sublayer input and produces the post/comb weights (Sinkhorn-normalised), HCPost writes the
// sublayer output back into the streams, HCHead collapses the streams before the final norm.

#include <cstdint>
#include <vector>

#include "model/v4/ops.hpp"
#include "model/weights.hpp"

namespace osprey::model::v4 {

struct HcMix {
    std::vector<float> post;  // [tokens, hc]
    std::vector<float> comb;  // [tokens, hc, hc]  (row j = source stream)
};

// streams [tokens, hc, D] → x [tokens, D]; fills mix.
void hc_pre(const Ctx& ctx, const HcParams& p, const float* streams, std::int64_t tokens, float* x,
            HcMix& mix);

// streams [tokens, hc, D] ← post·a + Σ_j comb[j][k]·residual[j]; `streams` may alias `residual`.
void hc_post(const Ctx& ctx, const float* a, const float* residual, const HcMix& mix,
             std::int64_t tokens, float* streams);

// streams [tokens, hc, D] → y [tokens, D].
void hc_head(const Ctx& ctx, const HcParams& p, const float* streams, std::int64_t tokens,
             float* y);

// Sinkhorn normalisation of an hc x hc matrix in place (spec §4.1 step 4).
void sinkhorn(float* c, std::int64_t hc, std::int64_t iters, float eps);

}  // namespace osprey::model::v4
