#include "model/v4/indexer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cpu/formats.hpp"
#include "kernels/cpu/linear.hpp"

namespace osprey::model::v4 {

void indexer_queries(const Ctx& ctx, const IndexerWeights& iw, const float* c_q, const float* x,
                     std::int64_t tokens, std::int64_t p0, const std::vector<float>& freqs,
                     std::vector<float>& q, std::vector<float>& w) {
    const std::int64_t nI = ctx.cfg.index_n_heads;
    const std::int64_t dI = ctx.cfg.index_head_dim;
    q.resize(static_cast<std::size_t>(tokens * nI * dI));
    linear(ctx, iw.wq_b, c_q, tokens, q.data(), LinearKind::quantized);
    for (std::int64_t t = 0; t < tokens; ++t) {
        float* qt = q.data() + t * nI * dI;
        apply_rope(ctx, freqs, p0 + t, qt, nI, dI);
        for (std::int64_t h = 0; h < nI; ++h) {
            kernels::hadamard_rotate(qt + h * dI, static_cast<int>(dI));
            round_act(ctx, qt + h * dI, dI);
            if (ctx.exact) {
                kernels::fp4_quant_dequant(qt + h * dI, static_cast<int>(dI), 32);
            }
        }
    }
    w.resize(static_cast<std::size_t>(tokens * nI));
    linear(ctx, iw.weights_proj, x, tokens, w.data(), LinearKind::bf16_out);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dI)) /
                                           std::sqrt(static_cast<double>(nI)));
    for (auto& v : w) {
        v *= scale;
    }
    round_act(ctx, w.data(), static_cast<std::int64_t>(w.size()));
}

void indexer_select(const Ctx& ctx, const float* q, const float* w, const CompressorState& keys,
                    std::int64_t top_k, std::vector<std::int64_t>& selected) {
    const std::int64_t n = keys.n_rows;
    if (n <= top_k) {
        for (std::int64_t j = 0; j < n; ++j) {
            selected.push_back(j);
        }
        return;
    }
    const std::int64_t nI = ctx.cfg.index_n_heads;
    const std::int64_t dI = ctx.cfg.index_head_dim;
    std::vector<float> score(static_cast<std::size_t>(n));
    for (std::int64_t j = 0; j < n; ++j) {
        const float* k = keys.row(j);
        float s = 0.0F;
        for (std::int64_t h = 0; h < nI; ++h) {
            float d = kernels::dot(q + h * dI, k, dI);
            if (ctx.exact) {
                d = kernels::round_bf16(d);
                s += kernels::round_bf16(std::max(d, 0.0F) * w[h]);
            } else {
                s += std::max(d, 0.0F) * w[h];
            }
        }
        score[static_cast<std::size_t>(j)] = ctx.exact ? kernels::round_bf16(s) : s;
    }
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                      [&](std::int64_t a, std::int64_t b) {
                          const float sa = score[static_cast<std::size_t>(a)];
                          const float sb = score[static_cast<std::size_t>(b)];
                          return sa > sb || (sa == sb && a < b);
                      });
    std::sort(order.begin(), order.begin() + top_k);
    selected.insert(selected.end(), order.begin(), order.begin() + top_k);
}

}  // namespace osprey::model::v4
