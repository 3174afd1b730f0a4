#include "model/v4/block.hpp"

#include <vector>

#include "model/v4/mhc.hpp"
#include "model/v4/moe.hpp"

namespace osprey::model::v4 {

void block_forward(const Ctx& ctx, const BlockWeights& b, const RopeTables& rope, LayerState& state,
                   float* streams, const std::int32_t* token_ids, std::int64_t tokens,
                   std::int64_t p0) {
    const std::int64_t D = ctx.cfg.hidden_size;
    std::vector<float> x(static_cast<std::size_t>(tokens * D));
    std::vector<float> y(static_cast<std::size_t>(tokens * D));
    HcMix mix;

    hc_pre(ctx, b.hc_attn, streams, tokens, x.data(), mix);
    rms_norm(ctx, x.data(), b.attn_norm.data(), tokens, D, x.data());
    attention_forward(ctx, b.attn, ctx.cfg.ratio(b.id), rope, state, x.data(), tokens, p0,
                      y.data());
    hc_post(ctx, y.data(), streams, mix, tokens, streams);

    hc_pre(ctx, b.hc_ffn, streams, tokens, x.data(), mix);
    rms_norm(ctx, x.data(), b.ffn_norm.data(), tokens, D, x.data());
    moe_forward(ctx, b.ffn, ctx.cfg.hash_routed(b.id), x.data(), token_ids, tokens, y.data());
    hc_post(ctx, y.data(), streams, mix, tokens, streams);
}

}  // namespace osprey::model::v4
