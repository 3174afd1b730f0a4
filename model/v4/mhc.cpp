#include "model/v4/mhc.hpp"

#include <algorithm>
#include <cmath>

namespace osprey::model::v4 {
namespace {

float sigmoid(float v) {
    return 1.0F / (1.0F + std::exp(-v));
}

// m [tokens, rows] = (F · v) · rsqrt(mean(v²) + eps), v = the flattened streams of a token.
std::vector<float> mix_logits(const Ctx& ctx, const WeightMatrix& fn, const float* streams,
                              std::int64_t tokens) {
    const std::int64_t n = fn.cols;
    std::vector<float> m(static_cast<std::size_t>(tokens * fn.rows));
    linear(ctx, fn, streams, tokens, m.data(), LinearKind::f32_out);
    const auto eps = static_cast<float>(ctx.cfg.rms_norm_eps);
    for (std::int64_t t = 0; t < tokens; ++t) {
        const float* v = streams + t * n;
        double ss = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            ss += static_cast<double>(v[i]) * v[i];
        }
        const float r = 1.0F / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
        for (std::int64_t k = 0; k < fn.rows; ++k) {
            m[static_cast<std::size_t>(t * fn.rows + k)] *= r;
        }
    }
    return m;
}

}  // namespace

void sinkhorn(float* c, std::int64_t hc, std::int64_t iters, float eps) {
    auto col_norm = [&] {
        for (std::int64_t k = 0; k < hc; ++k) {
            float s = 0.0F;
            for (std::int64_t j = 0; j < hc; ++j) {
                s += c[j * hc + k];
            }
            for (std::int64_t j = 0; j < hc; ++j) {
                c[j * hc + k] /= (s + eps);
            }
        }
    };
    // Row softmax + eps, then a column normalisation.
    for (std::int64_t j = 0; j < hc; ++j) {
        float* row = c + j * hc;
        const float mx = *std::max_element(row, row + hc);
        float s = 0.0F;
        for (std::int64_t k = 0; k < hc; ++k) {
            row[k] = std::exp(row[k] - mx);
            s += row[k];
        }
        for (std::int64_t k = 0; k < hc; ++k) {
            row[k] = row[k] / s + eps;
        }
    }
    col_norm();
    for (std::int64_t it = 1; it < iters; ++it) {
        for (std::int64_t j = 0; j < hc; ++j) {
            float s = 0.0F;
            for (std::int64_t k = 0; k < hc; ++k) {
                s += c[j * hc + k];
            }
            for (std::int64_t k = 0; k < hc; ++k) {
                c[j * hc + k] /= (s + eps);
            }
        }
        col_norm();
    }
}

void hc_pre(const Ctx& ctx, const HcParams& p, const float* streams, std::int64_t tokens, float* x,
            HcMix& mix) {
    const std::int64_t hc = ctx.cfg.hc_mult;
    const std::int64_t D = ctx.cfg.hidden_size;
    const auto eps = static_cast<float>(ctx.cfg.hc_eps);
    const std::vector<float> m = mix_logits(ctx, p.fn, streams, tokens);
    mix.post.assign(static_cast<std::size_t>(tokens * hc), 0.0F);
    mix.comb.assign(static_cast<std::size_t>(tokens * hc * hc), 0.0F);
    const std::int64_t rows = p.fn.rows;
    std::vector<float> pre(static_cast<std::size_t>(hc));
    for (std::int64_t t = 0; t < tokens; ++t) {
        const float* mt = m.data() + t * rows;
        for (std::int64_t k = 0; k < hc; ++k) {
            pre[static_cast<std::size_t>(k)] = sigmoid(mt[k] * p.scale[0] + p.base[k]) + eps;
            mix.post[static_cast<std::size_t>(t * hc + k)] =
                2.0F * sigmoid(mt[hc + k] * p.scale[1] + p.base[hc + k]);
        }
        float* c = mix.comb.data() + t * hc * hc;
        for (std::int64_t i = 0; i < hc * hc; ++i) {
            c[i] = mt[2 * hc + i] * p.scale[2] + p.base[2 * hc + i];
        }
        sinkhorn(c, hc, ctx.cfg.hc_sinkhorn_iters, eps);
        float* xt = x + t * D;
        const float* st = streams + t * hc * D;
        for (std::int64_t d = 0; d < D; ++d) {
            float s = 0.0F;
            for (std::int64_t k = 0; k < hc; ++k) {
                s += pre[static_cast<std::size_t>(k)] * st[k * D + d];
            }
            xt[d] = s;
        }
        round_act(ctx, xt, D);
    }
}

void hc_post(const Ctx& ctx, const float* a, const float* residual, const HcMix& mix,
             std::int64_t tokens, float* streams) {
    const std::int64_t hc = ctx.cfg.hc_mult;
    const std::int64_t D = ctx.cfg.hidden_size;
    std::vector<float> out(static_cast<std::size_t>(hc * D));
    for (std::int64_t t = 0; t < tokens; ++t) {
        const float* r = residual + t * hc * D;
        const float* at = a + t * D;
        const float* post = mix.post.data() + t * hc;
        const float* c = mix.comb.data() + t * hc * hc;
        for (std::int64_t k = 0; k < hc; ++k) {
            float* o = out.data() + k * D;
            for (std::int64_t d = 0; d < D; ++d) {
                float s = post[k] * at[d];
                for (std::int64_t j = 0; j < hc; ++j) {
                    s += c[j * hc + k] * r[j * D + d];
                }
                o[d] = s;
            }
        }
        round_act(ctx, out.data(), hc * D);
        std::copy(out.begin(), out.end(), streams + t * hc * D);
    }
}

void hc_head(const Ctx& ctx, const HcParams& p, const float* streams, std::int64_t tokens,
             float* y) {
    const std::int64_t hc = ctx.cfg.hc_mult;
    const std::int64_t D = ctx.cfg.hidden_size;
    const auto eps = static_cast<float>(ctx.cfg.hc_eps);
    const std::vector<float> m = mix_logits(ctx, p.fn, streams, tokens);
    for (std::int64_t t = 0; t < tokens; ++t) {
        const float* st = streams + t * hc * D;
        float* yt = y + t * D;
        std::vector<float> pre(static_cast<std::size_t>(hc));
        for (std::int64_t k = 0; k < hc; ++k) {
            pre[static_cast<std::size_t>(k)] =
                sigmoid(m[static_cast<std::size_t>(t * hc + k)] * p.scale[0] + p.base[k]) + eps;
        }
        for (std::int64_t d = 0; d < D; ++d) {
            float s = 0.0F;
            for (std::int64_t k = 0; k < hc; ++k) {
                s += pre[static_cast<std::size_t>(k)] * st[k * D + d];
            }
            yt[d] = s;
        }
        round_act(ctx, yt, D);
    }
}

}  // namespace osprey::model::v4
