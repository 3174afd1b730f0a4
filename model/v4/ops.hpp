#pragma once
// Shared pieces of the V4 forward pass on the host: the numerics context (which rounding points are
// active), RMSNorm, linear layers with the official activation/output handling, and RoPE with YaRN.

#include <cstdint>
#include <vector>

#include "kernels/cpu/linear.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "model/backend.hpp"
#include "model/config.hpp"

namespace osprey::model::v4 {

using kernels::WeightMatrix;

struct Ctx {
    const ModelConfig& cfg;
    bool exact = false;
    kernels::ThreadPool* pool = nullptr;
};

// bf16 rounding of n values when the exact numerics are on (a no-op in fp32 mode).
void round_act(const Ctx& ctx, float* x, std::int64_t n);

// y = w ⊙ x / sqrt(mean(x²) + eps) per row of width n; rows independent; y may alias x.
void rms_norm(const Ctx& ctx, const float* x, const float* w, std::int64_t rows, std::int64_t n,
              float* y);

enum class LinearKind {
    quantized,  // FP8/FP4 weights: FP8 activation quantization (exact) and bf16 output (exact)
    bf16_out,   // plain matmul whose output is rounded to bf16 in exact mode (wo_a, weights_proj)
    f32_out,    // plain matmul with fp32 output (compressor, router, head, hc mixing)
};

// y [tokens, W.rows] = x [tokens, W.cols] · Wᵀ with the numerics of `kind`.
void linear(const Ctx& ctx, const WeightMatrix& w, const float* x, std::int64_t tokens, float* y,
            LinearKind kind);

// Rows [r0, r0 + n) of a matrix as a matrix (FP8 slices must start on a 128-row block).
WeightMatrix row_slice(const WeightMatrix& w, std::int64_t r0, std::int64_t n);

// Frequencies of one layer kind (spec §2.7): compressed layers use compress_rope_theta with YaRN.
std::vector<float> rope_frequencies(const ModelConfig& cfg, bool compressed);

// Rotates the last rd dims (interleaved pairs) of `heads` vectors of width `dim` by position·f
// (inverse: by −position·f). Rounds the rotated values to bf16 in exact mode.
void apply_rope(const Ctx& ctx, const std::vector<float>& freqs, std::int64_t position, float* x,
                std::int64_t heads, std::int64_t dim, bool inverse = false);

}  // namespace osprey::model::v4
