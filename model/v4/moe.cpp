#include "model/v4/moe.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace osprey::model::v4 {
namespace {

// h = silu(clamp(g)) · clamp(u) · weight, rows [n, I]; g clamped above, u on both sides.
void swiglu(const Ctx& ctx, const float* g, const float* u, const float* weight, std::int64_t n,
            std::int64_t width, float* h) {
    const auto lim = static_cast<float>(ctx.cfg.swiglu_limit);
    for (std::int64_t t = 0; t < n; ++t) {
        for (std::int64_t i = 0; i < width; ++i) {
            float gv = g[t * width + i];
            float uv = u[t * width + i];
            if (lim > 0.0F) {
                gv = std::min(gv, lim);
                uv = std::clamp(uv, -lim, lim);
            }
            const float silu = gv / (1.0F + std::exp(-gv));
            h[t * width + i] = silu * uv * (weight != nullptr ? weight[t] : 1.0F);
        }
        round_act(ctx, h + t * width, width);
    }
}

void run_expert(const Ctx& ctx, const ExpertWeights& e, const float* x, const float* weight,
                std::int64_t n, float* y) {
    const std::int64_t I = e.w1.rows;
    std::vector<float> g(static_cast<std::size_t>(n * I));
    std::vector<float> u(static_cast<std::size_t>(n * I));
    linear(ctx, e.w1, x, n, g.data(), LinearKind::quantized);
    linear(ctx, e.w3, x, n, u.data(), LinearKind::quantized);
    swiglu(ctx, g.data(), u.data(), weight, n, I, g.data());
    linear(ctx, e.w2, g.data(), n, y, LinearKind::quantized);
}

}  // namespace

Routing moe_route(const Ctx& ctx, const MoeWeights& w, bool hash_routed, const float* x,
                  const std::int32_t* token_ids, std::int64_t tokens) {
    const std::int64_t E = w.gate.rows;
    const std::int64_t k = ctx.cfg.num_experts_per_tok;
    std::vector<float> logits(static_cast<std::size_t>(tokens * E));
    linear(ctx, w.gate, x, tokens, logits.data(), LinearKind::f32_out);
    Routing r;
    r.experts.resize(static_cast<std::size_t>(tokens * k));
    r.weights.resize(static_cast<std::size_t>(tokens * k));
    std::vector<float> score(static_cast<std::size_t>(E));
    std::vector<std::int64_t> order(static_cast<std::size_t>(E));
    for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t e = 0; e < E; ++e) {
            const float l = logits[static_cast<std::size_t>(t * E + e)];
            const float sp = l > 20.0F ? l : std::log1p(std::exp(l));
            score[static_cast<std::size_t>(e)] = std::sqrt(sp);
        }
        std::int64_t* ex = r.experts.data() + t * k;
        if (hash_routed) {
            for (std::int64_t i = 0; i < k; ++i) {
                ex[i] = w.hash_expert(token_ids[t], i, k);
            }
        } else {
            std::iota(order.begin(), order.end(), 0);
            auto biased = [&](std::int64_t e) {
                return score[static_cast<std::size_t>(e)] + w.bias[static_cast<std::size_t>(e)];
            };
            std::partial_sort(order.begin(), order.begin() + k, order.end(),
                              [&](std::int64_t a, std::int64_t b) {
                                  return biased(a) > biased(b) || (biased(a) == biased(b) && a < b);
                              });
            std::copy(order.begin(), order.begin() + k, ex);
        }
        float sum = 0.0F;
        for (std::int64_t i = 0; i < k; ++i) {
            sum += score[static_cast<std::size_t>(ex[i])];
        }
        const auto scale = static_cast<float>(ctx.cfg.routed_scaling_factor);
        for (std::int64_t i = 0; i < k; ++i) {
            r.weights[static_cast<std::size_t>(t * k + i)] =
                score[static_cast<std::size_t>(ex[i])] / sum * scale;
        }
    }
    return r;
}

void moe_forward(const Ctx& ctx, const MoeWeights& w, bool hash_routed, const float* x,
                 const std::int32_t* token_ids, std::int64_t tokens, float* out) {
    const std::int64_t D = ctx.cfg.hidden_size;
    const std::int64_t k = ctx.cfg.num_experts_per_tok;
    const Routing r = moe_route(ctx, w, hash_routed, x, token_ids, tokens);
    std::vector<float> acc(static_cast<std::size_t>(tokens * D), 0.0F);
    // Routed experts in ascending id; each reads its weights once for all its tokens.
    std::vector<std::int64_t> rows;
    std::vector<float> xs, ws, ys;
    for (std::int64_t e = 0; e < static_cast<std::int64_t>(w.experts.size()); ++e) {
        rows.clear();
        ws.clear();
        for (std::int64_t t = 0; t < tokens; ++t) {
            for (std::int64_t i = 0; i < k; ++i) {
                if (r.experts[static_cast<std::size_t>(t * k + i)] == e) {
                    rows.push_back(t);
                    ws.push_back(r.weights[static_cast<std::size_t>(t * k + i)]);
                }
            }
        }
        if (rows.empty()) {
            continue;
        }
        const auto n = static_cast<std::int64_t>(rows.size());
        xs.resize(static_cast<std::size_t>(n * D));
        ys.resize(static_cast<std::size_t>(n * D));
        for (std::int64_t i = 0; i < n; ++i) {
            std::copy(x + rows[static_cast<std::size_t>(i)] * D,
                      x + (rows[static_cast<std::size_t>(i)] + 1) * D, xs.data() + i * D);
        }
        run_expert(ctx, w.experts[static_cast<std::size_t>(e)], xs.data(), ws.data(), n, ys.data());
        for (std::int64_t i = 0; i < n; ++i) {
            float* a = acc.data() + rows[static_cast<std::size_t>(i)] * D;
            for (std::int64_t d = 0; d < D; ++d) {
                a[d] += ys[static_cast<std::size_t>(i * D + d)];
            }
        }
    }
    std::vector<float> shared(static_cast<std::size_t>(tokens * D));
    run_expert(ctx, w.shared, x, nullptr, tokens, shared.data());
    for (std::int64_t i = 0; i < tokens * D; ++i) {
        out[i] = acc[static_cast<std::size_t>(i)] + shared[static_cast<std::size_t>(i)];
    }
    round_act(ctx, out, tokens * D);
}

}  // namespace osprey::model::v4
