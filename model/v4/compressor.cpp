#include "model/v4/compressor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/formats.hpp"

namespace osprey::model::v4 {

void compressor_init(CompressorState& state, const CompressorWeights& w, std::int64_t margin) {
    const std::int64_t width = (w.overlap ? 2 : 1) * w.dim;
    state.u.init(width, 2 * w.ratio + margin);
    state.g.init(width, 2 * w.ratio + margin);
    state.dim = w.dim;
    state.n_rows = 0;
    state.rows.clear();
}

void compressor_project(const Ctx& ctx, const CompressorWeights& w, const float* x,
                        std::int64_t tokens, std::int64_t p0, std::vector<float>& u,
                        std::vector<float>& g) {
    const std::int64_t width = w.wkv.rows;
    u.resize(static_cast<std::size_t>(tokens * width));
    g.resize(static_cast<std::size_t>(tokens * width));
    linear(ctx, w.wkv, x, tokens, u.data(), LinearKind::f32_out);
    linear(ctx, w.wgate, x, tokens, g.data(), LinearKind::f32_out);
    for (std::int64_t t = 0; t < tokens; ++t) {
        const float* ape = w.ape.data() + ((p0 + t) % w.ratio) * width;
        float* gt = g.data() + t * width;
        for (std::int64_t i = 0; i < width; ++i) {
            gt[i] += ape[i];
        }
    }
}

void compressor_push(const Ctx& ctx, const CompressorWeights& w, CompressorState& state,
                     std::int64_t p, const float* u, const float* g,
                     const std::vector<float>& freqs, CompressorRole role) {
    const std::int64_t width = state.u.width;
    std::copy(u, u + width, state.u.at(p));
    std::copy(g, g + width, state.g.at(p));
    const std::int64_t r = w.ratio;
    if ((p + 1) % r != 0) {
        return;
    }
    const std::int64_t j = (p + 1) / r - 1;
    const std::int64_t d = w.dim;
    std::vector<float> z(static_cast<std::size_t>(d));
    // Entries: (position, feature offset) pairs pooled per feature.
    struct Entry {
        std::int64_t pos;
        std::int64_t offset;
    };
    std::vector<Entry> entries;
    if (w.overlap) {
        if (j > 0) {
            for (std::int64_t q = (j - 1) * r; q < j * r; ++q) {
                entries.push_back({q, 0});  // A half of the previous block
            }
        }
        for (std::int64_t q = j * r; q < (j + 1) * r; ++q) {
            entries.push_back({q, d});  // B half of this block
        }
    } else {
        for (std::int64_t q = j * r; q < (j + 1) * r; ++q) {
            entries.push_back({q, 0});
        }
    }
    for (std::int64_t f = 0; f < d; ++f) {
        float mx = -std::numeric_limits<float>::infinity();
        for (const auto& e : entries) {
            mx = std::max(mx, state.g.at(e.pos)[e.offset + f]);
        }
        float den = 0.0F;
        float num = 0.0F;
        for (const auto& e : entries) {
            const float wgt = std::exp(state.g.at(e.pos)[e.offset + f] - mx);
            den += wgt;
            num += wgt * state.u.at(e.pos)[e.offset + f];
        }
        z[static_cast<std::size_t>(f)] = num / den;
    }
    round_act(ctx, z.data(), d);
    rms_norm(ctx, z.data(), w.norm.data(), 1, d, z.data());
    apply_rope(ctx, freqs, j * r, z.data(), 1, d);
    const std::int64_t rd = 2 * static_cast<std::int64_t>(freqs.size());
    if (role == CompressorRole::main_kv) {
        if (ctx.exact) {
            kernels::fp8_quant_dequant(z.data(), static_cast<int>(d - rd), 64);
        }
    } else {
        kernels::hadamard_rotate(z.data(), static_cast<int>(d));
        round_act(ctx, z.data(), d);
        if (ctx.exact) {
            kernels::fp4_quant_dequant(z.data(), static_cast<int>(d), 32);
        }
    }
    state.rows.insert(state.rows.end(), z.begin(), z.end());
    state.n_rows = j + 1;
}

}  // namespace osprey::model::v4
