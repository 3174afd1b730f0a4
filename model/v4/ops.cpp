#include "model/v4/ops.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "kernels/cpu/formats.hpp"

namespace osprey::model::v4 {

void round_act(const Ctx& ctx, float* x, std::int64_t n) {
    if (!ctx.exact) {
        return;
    }
    for (std::int64_t i = 0; i < n; ++i) {
        x[i] = kernels::round_bf16(x[i]);
    }
}

void rms_norm(const Ctx& ctx, const float* x, const float* w, std::int64_t rows, std::int64_t n,
              float* y) {
    const auto eps = static_cast<float>(ctx.cfg.rms_norm_eps);
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        double ss = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            ss += static_cast<double>(xr[i]) * xr[i];
        }
        const float inv = 1.0F / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
        for (std::int64_t i = 0; i < n; ++i) {
            yr[i] = xr[i] * inv * w[i];
        }
        round_act(ctx, yr, n);
    }
}

void linear(const Ctx& ctx, const WeightMatrix& w, const float* x, std::int64_t tokens, float* y,
            LinearKind kind) {
    const bool quantized_weight = w.format == kernels::WeightFormat::fp8_block128 ||
                                  w.format == kernels::WeightFormat::fp4_block32;
    if (ctx.exact && kind == LinearKind::quantized && quantized_weight) {
        // Activation → FP8 e4m3 in 1x128 blocks with power-of-two scales (spec §2.3).
        std::vector<float> q(x, x + tokens * w.cols);
        for (std::int64_t t = 0; t < tokens; ++t) {
            kernels::fp8_quant_dequant(q.data() + t * w.cols, static_cast<int>(w.cols), 128);
        }
        kernels::linear(w, q.data(), tokens, y, ctx.pool);
    } else {
        kernels::linear(w, x, tokens, y, ctx.pool);
    }
    if (kind != LinearKind::f32_out) {
        round_act(ctx, y, tokens * w.rows);
    }
}

WeightMatrix row_slice(const WeightMatrix& w, std::int64_t r0, std::int64_t n) {
    WeightMatrix s = w;
    s.rows = n;
    switch (w.format) {
        case kernels::WeightFormat::f32:
            s.data = static_cast<const float*>(w.data) + r0 * w.cols;
            break;
        case kernels::WeightFormat::bf16:
            s.data = static_cast<const std::uint16_t*>(w.data) + r0 * w.cols;
            break;
        case kernels::WeightFormat::fp8_block128:
            if (r0 % 128 != 0) {
                throw std::invalid_argument("row_slice: FP8 slice must start on a 128-row block");
            }
            s.data = static_cast<const std::uint8_t*>(w.data) + r0 * w.cols;
            s.scales = w.scales + (r0 / 128) * w.scale_cols;
            break;
        case kernels::WeightFormat::fp4_block32:
            s.data = static_cast<const std::uint8_t*>(w.data) + r0 * (w.cols / 2);
            s.scales = w.scales + r0 * w.scale_cols;
            break;
    }
    return s;
}

std::vector<float> rope_frequencies(const ModelConfig& cfg, bool compressed) {
    const std::int64_t rd = cfg.qk_rope_head_dim;
    const double base = compressed ? cfg.compress_rope_theta : cfg.rope_theta;
    std::vector<float> f(static_cast<std::size_t>(rd / 2));
    for (std::int64_t i = 0; i < rd / 2; ++i) {
        const float e = static_cast<float>(2 * i) / static_cast<float>(rd);
        f[static_cast<std::size_t>(i)] = 1.0F / std::pow(static_cast<float>(base), e);
    }
    if (!compressed) {
        return f;
    }
    const auto& ys = cfg.rope_scaling;
    const double L0 = static_cast<double>(ys.original_max_position_embeddings);
    auto corr = [&](double rot) {
        return static_cast<double>(rd) * std::log(L0 / (2.0 * std::numbers::pi * rot)) /
               (2.0 * std::log(base));
    };
    double low = std::max(std::floor(corr(ys.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(ys.beta_slow)), static_cast<double>(rd - 1));
    if (low == high) {
        high += 0.001;
    }
    const auto factor = static_cast<float>(ys.factor);
    for (std::int64_t i = 0; i < rd / 2; ++i) {
        float ramp = (static_cast<float>(i) - static_cast<float>(low)) /
                     (static_cast<float>(high) - static_cast<float>(low));
        ramp = std::clamp(ramp, 0.0F, 1.0F);
        const float fi = f[static_cast<std::size_t>(i)];
        f[static_cast<std::size_t>(i)] = fi / factor * ramp + fi * (1.0F - ramp);
    }
    return f;
}

void apply_rope(const Ctx& ctx, const std::vector<float>& freqs, std::int64_t position, float* x,
                std::int64_t heads, std::int64_t dim, bool inverse) {
    const auto half = static_cast<std::int64_t>(freqs.size());
    const std::int64_t rd = 2 * half;
    float cs[256];
    float sn[256];
    std::vector<float> big;
    float* c = cs;
    float* s = sn;
    if (half > 256) {
        big.resize(static_cast<std::size_t>(2 * half));
        c = big.data();
        s = big.data() + half;
    }
    for (std::int64_t i = 0; i < half; ++i) {
        const float angle = static_cast<float>(position) * freqs[static_cast<std::size_t>(i)];
        c[i] = std::cos(angle);
        s[i] = inverse ? -std::sin(angle) : std::sin(angle);
    }
    for (std::int64_t h = 0; h < heads; ++h) {
        float* v = x + h * dim + (dim - rd);
        for (std::int64_t i = 0; i < half; ++i) {
            const float a = v[2 * i];
            const float b = v[2 * i + 1];
            v[2 * i] = a * c[i] - b * s[i];
            v[2 * i + 1] = a * s[i] + b * c[i];
        }
        round_act(ctx, v, rd);
    }
}

}  // namespace osprey::model::v4
