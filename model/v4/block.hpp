#pragma once
// One decoder block (spec §3): HCPre → attn_norm → attention → HCPost, then HCPre → ffn_norm → MoE
// → HCPost, on the hc residual streams [tokens, hc, D].

#include <cstdint>

#include "model/v4/attention.hpp"
#include "model/v4/ops.hpp"
#include "model/v4/state.hpp"
#include "model/weights.hpp"

namespace osprey::model::v4 {

void block_forward(const Ctx& ctx, const BlockWeights& b, const RopeTables& rope, LayerState& state,
                   float* streams, const std::int32_t* token_ids, std::int64_t tokens,
                   std::int64_t p0);

}  // namespace osprey::model::v4
