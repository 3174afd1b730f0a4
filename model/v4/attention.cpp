#include "model/v4/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/formats.hpp"
#include "model/v4/compressor.hpp"
#include "model/v4/indexer.hpp"

namespace osprey::model::v4 {

void attention_init_state(const ModelConfig& cfg, const AttentionWeights& w, LayerState& state,
                          std::int64_t margin) {
    state.kv.init(cfg.head_dim, cfg.sliding_window + margin);
    state.compressor.reset();
    state.indexer.reset();
    if (w.compressor) {
        state.compressor.emplace();
        compressor_init(*state.compressor, *w.compressor, margin);
    }
    if (w.indexer) {
        state.indexer.emplace();
        compressor_init(*state.indexer, w.indexer->compressor, margin);
    }
}

void attend_one(const float* q, const std::vector<const float*>& keys, std::int64_t dim,
                float scale, float sink, bool exact, float* out) {
    const auto n = static_cast<std::int64_t>(keys.size());
    std::vector<float> s(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        s[static_cast<std::size_t>(i)] =
            kernels::dot(q, keys[static_cast<std::size_t>(i)], dim) * scale;
    }
    std::fill(out, out + dim, 0.0F);
    if (!exact) {
        float m = -std::numeric_limits<float>::infinity();
        for (float v : s) {
            m = std::max(m, v);
        }
        float den = 0.0F;
        for (std::int64_t i = 0; i < n; ++i) {
            const float p = std::exp(s[static_cast<std::size_t>(i)] - m);
            den += p;
            const float* k = keys[static_cast<std::size_t>(i)];
            for (std::int64_t d = 0; d < dim; ++d) {
                out[d] += p * k[d];
            }
        }
        den += std::exp(sink - m);
        for (std::int64_t d = 0; d < dim; ++d) {
            out[d] /= den;
        }
        return;
    }
    // Flash-style: blocks of 64 keys, running max, bf16 probabilities for P·V, fp32 denominator.
    float m = -std::numeric_limits<float>::infinity();
    float den = 0.0F;
    for (std::int64_t b0 = 0; b0 < n; b0 += 64) {
        const std::int64_t b1 = std::min(n, b0 + 64);
        float bm = m;
        for (std::int64_t i = b0; i < b1; ++i) {
            bm = std::max(bm, s[static_cast<std::size_t>(i)]);
        }
        const float corr = std::exp(m - bm);
        den *= corr;
        for (std::int64_t d = 0; d < dim; ++d) {
            out[d] *= corr;
        }
        for (std::int64_t i = b0; i < b1; ++i) {
            const float p = std::exp(s[static_cast<std::size_t>(i)] - bm);
            den += p;
            const float pb = kernels::round_bf16(p);
            const float* k = keys[static_cast<std::size_t>(i)];
            for (std::int64_t d = 0; d < dim; ++d) {
                out[d] += pb * k[d];
            }
        }
        m = bm;
    }
    den += std::exp(sink - m);
    for (std::int64_t d = 0; d < dim; ++d) {
        out[d] /= den;
    }
}

namespace {

// Per-head RMS normalisation of q without weight (spec §5.1 step 3); bf16 arithmetic when exact.
void q_head_rms(const Ctx& ctx, float* q, std::int64_t heads, std::int64_t dim) {
    const auto eps = static_cast<float>(ctx.cfg.rms_norm_eps);
    for (std::int64_t h = 0; h < heads; ++h) {
        float* v = q + h * dim;
        if (!ctx.exact) {
            double ss = 0.0;
            for (std::int64_t i = 0; i < dim; ++i) {
                ss += static_cast<double>(v[i]) * v[i];
            }
            const float inv =
                1.0F / std::sqrt(static_cast<float>(ss / static_cast<double>(dim)) + eps);
            for (std::int64_t i = 0; i < dim; ++i) {
                v[i] *= inv;
            }
            continue;
        }
        using kernels::round_bf16;
        float ss = 0.0F;
        for (std::int64_t i = 0; i < dim; ++i) {
            ss += round_bf16(v[i] * v[i]);
        }
        const float mean = round_bf16(ss / static_cast<float>(dim));
        const float rs = round_bf16(1.0F / std::sqrt(round_bf16(mean + eps)));
        for (std::int64_t i = 0; i < dim; ++i) {
            v[i] = round_bf16(v[i] * rs);
        }
    }
}

}  // namespace

void attention_forward(const Ctx& ctx, const AttentionWeights& w, std::int64_t ratio,
                       const RopeTables& rope, LayerState& state, const float* x,
                       std::int64_t tokens, std::int64_t p0, float* out) {
    const ModelConfig& c = ctx.cfg;
    const std::int64_t H = c.num_attention_heads;
    const std::int64_t hd = c.head_dim;
    const std::int64_t rd = c.qk_rope_head_dim;
    const std::int64_t qr = c.q_lora_rank;
    const std::int64_t D = c.hidden_size;
    const std::vector<float>& freqs = ratio > 0 ? rope.compressed : rope.plain;

    // Query path.
    std::vector<float> c_q(static_cast<std::size_t>(tokens * qr));
    linear(ctx, w.wq_a, x, tokens, c_q.data(), LinearKind::quantized);
    rms_norm(ctx, c_q.data(), w.q_norm.data(), tokens, qr, c_q.data());
    std::vector<float> q(static_cast<std::size_t>(tokens * H * hd));
    linear(ctx, w.wq_b, c_q.data(), tokens, q.data(), LinearKind::quantized);
    for (std::int64_t t = 0; t < tokens; ++t) {
        q_head_rms(ctx, q.data() + t * H * hd, H, hd);
        apply_rope(ctx, freqs, p0 + t, q.data() + t * H * hd, H, hd);
    }
    // Window KV path.
    std::vector<float> kv(static_cast<std::size_t>(tokens * hd));
    linear(ctx, w.wkv, x, tokens, kv.data(), LinearKind::quantized);
    rms_norm(ctx, kv.data(), w.kv_norm.data(), tokens, hd, kv.data());
    for (std::int64_t t = 0; t < tokens; ++t) {
        apply_rope(ctx, freqs, p0 + t, kv.data() + t * hd, 1, hd);
        if (ctx.exact) {
            kernels::fp8_quant_dequant(kv.data() + t * hd, static_cast<int>(hd - rd), 64);
        }
    }
    // Compressor and indexer projections for the whole chunk.
    std::vector<float> cu, cg, iu, ig, iq, iwt;
    if (w.compressor) {
        compressor_project(ctx, *w.compressor, x, tokens, p0, cu, cg);
    }
    if (w.indexer) {
        compressor_project(ctx, w.indexer->compressor, x, tokens, p0, iu, ig);
        indexer_queries(ctx, *w.indexer, c_q.data(), x, tokens, p0, freqs, iq, iwt);
    }

    // Token by token: update the state, then attend what this position may see.
    std::vector<float> o(static_cast<std::size_t>(tokens * H * hd));
    const float scale = 1.0F / std::sqrt(static_cast<float>(hd));
    const std::int64_t win = c.sliding_window;
    std::vector<const float*> keys;
    std::vector<std::int64_t> selected;
    for (std::int64_t t = 0; t < tokens; ++t) {
        const std::int64_t p = p0 + t;
        std::copy(kv.data() + t * hd, kv.data() + (t + 1) * hd, state.kv.at(p));
        if (w.compressor) {
            const std::int64_t cw = state.compressor->u.width;
            compressor_push(ctx, *w.compressor, *state.compressor, p, cu.data() + t * cw,
                            cg.data() + t * cw, freqs, CompressorRole::main_kv);
        }
        if (w.indexer) {
            const std::int64_t iwd = state.indexer->u.width;
            compressor_push(ctx, w.indexer->compressor, *state.indexer, p, iu.data() + t * iwd,
                            ig.data() + t * iwd, freqs, CompressorRole::indexer_keys);
        }
        keys.clear();
        for (std::int64_t k = std::max<std::int64_t>(0, p - win + 1); k <= p; ++k) {
            keys.push_back(state.kv.at(k));
        }
        if (w.compressor) {
            const CompressorState& cs = *state.compressor;
            if (w.indexer) {
                selected.clear();
                const std::int64_t nI = c.index_n_heads;
                const std::int64_t dI = c.index_head_dim;
                indexer_select(ctx, iq.data() + t * nI * dI, iwt.data() + t * nI, *state.indexer,
                               c.index_topk, selected);
                for (std::int64_t j : selected) {
                    keys.push_back(cs.row(j));
                }
            } else {
                for (std::int64_t j = 0; j < cs.n_rows; ++j) {
                    keys.push_back(cs.row(j));
                }
            }
        }
        auto head_fn = [&](std::int64_t h0, std::int64_t h1) {
            for (std::int64_t h = h0; h < h1; ++h) {
                float* oh = o.data() + (t * H + h) * hd;
                attend_one(q.data() + (t * H + h) * hd, keys, hd, scale,
                           w.sink[static_cast<std::size_t>(h)], ctx.exact, oh);
                round_act(ctx, oh, hd);
            }
        };
        if (ctx.pool != nullptr && static_cast<std::int64_t>(keys.size()) * H * hd > (1 << 15)) {
            ctx.pool->parallel_for(H, 1, head_fn);
        } else {
            head_fn(0, H);
        }
        apply_rope(ctx, freqs, p, o.data() + t * H * hd, H, hd, /*inverse=*/true);
    }

    // Grouped low-rank output projection.
    const std::int64_t G = c.o_groups;
    const std::int64_t rank = c.o_lora_rank;
    const std::int64_t gw = H / G * hd;
    std::vector<float> og(static_cast<std::size_t>(tokens * gw));
    std::vector<float> zg(static_cast<std::size_t>(tokens * rank));
    std::vector<float> z(static_cast<std::size_t>(tokens * G * rank));
    for (std::int64_t g = 0; g < G; ++g) {
        for (std::int64_t t = 0; t < tokens; ++t) {
            std::copy(o.data() + t * H * hd + g * gw, o.data() + t * H * hd + (g + 1) * gw,
                      og.data() + t * gw);
        }
        linear(ctx, row_slice(w.wo_a, g * rank, rank), og.data(), tokens, zg.data(),
               LinearKind::bf16_out);
        for (std::int64_t t = 0; t < tokens; ++t) {
            std::copy(zg.data() + t * rank, zg.data() + (t + 1) * rank,
                      z.data() + t * G * rank + g * rank);
        }
    }
    linear(ctx, w.wo_b, z.data(), tokens, out, LinearKind::quantized);
    (void)D;
}

}  // namespace osprey::model::v4
