#pragma once
// Linear layers over weights that stay in their checkpoint format (spec §10.3): y = x · Wᵀ with W
// dequantized on the fly, fp32 accumulation. `linear_ref` is the plain reference (one weight at a
// time); `linear` is the fast path (row-wise SIMD dequantization chosen at run time, AVX2/FMA or
// portable, rows split over a thread pool). Tests compare the two on random inputs.

#include <cstdint>

#include "kernels/cpu/thread_pool.hpp"

namespace osprey::kernels {

enum class WeightFormat : std::uint8_t {
    f32,
    bf16,
    fp8_block128,  // F8_E4M3 codes [rows, cols] + E8M0 scales [ceil(rows/128), ceil(cols/128)]
    fp4_block32,   // packed e2m1 [rows, cols/2] (low nibble first) + E8M0 scales [rows, cols/32]
};

// A non-owning view of a weight matrix [rows, cols] (output features x input features). The
// memory may be a read-only mapping of the checkpoint.
struct WeightMatrix {
    WeightFormat format = WeightFormat::f32;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    const void* data = nullptr;
    const std::uint8_t* scales = nullptr;  // E8M0 codes, quantized formats only
    std::int64_t scale_cols = 0;           // columns of the scale tensor

    // Bytes a full pass over the matrix reads (codes + scales).
    std::int64_t bytes() const;
};

// One weight, dequantized (reference definition of the formats).
float weight_at(const WeightMatrix& w, std::int64_t row, std::int64_t col);

// Rows [row, row + 1) dequantized into out[cols] (fast path).
void dequant_row(const WeightMatrix& w, std::int64_t row, float* out);

// y[t, r] = Σ_c x[t, c] · W[r, c] for t < tokens; x is [tokens, cols], y is [tokens, rows].
void linear_ref(const WeightMatrix& w, const float* x, std::int64_t tokens, float* y);
void linear(const WeightMatrix& w, const float* x, std::int64_t tokens, float* y, ThreadPool* pool);

// Σ a[i]·b[i] in fp32 (SIMD when available).
float dot(const float* a, const float* b, std::int64_t n);

// "avx512" / "avx2" / "portable": the variant dequant_row and dot use on this machine.
const char* linear_kernel_variant();

}  // namespace osprey::kernels
