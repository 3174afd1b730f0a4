#include "kernels/cpu/linear.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "kernels/cpu/formats.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace osprey::kernels {
namespace {

// byte → its two FP4 values (low nibble first).
std::array<float, 512> make_fp4_pair_table() {
    std::array<float, 512> t{};
    for (int b = 0; b < 256; ++b) {
        t[static_cast<std::size_t>(2 * b)] = fp4_e2m1_to_f32(static_cast<std::uint8_t>(b & 0xF));
        t[static_cast<std::size_t>(2 * b + 1)] = fp4_e2m1_to_f32(static_cast<std::uint8_t>(b >> 4));
    }
    return t;
}

const float* fp4_pair_table() {
    static const std::array<float, 512> table = make_fp4_pair_table();
    return table.data();
}

// ---- portable ---------------------------------------------------------------------------------
void dequant_row_portable(const WeightMatrix& w, std::int64_t r, float* out) {
    const std::int64_t n = w.cols;
    switch (w.format) {
        case WeightFormat::f32:
            std::memcpy(out, static_cast<const float*>(w.data) + r * n,
                        static_cast<std::size_t>(n) * 4);
            return;
        case WeightFormat::bf16: {
            const auto* src = static_cast<const std::uint16_t*>(w.data) + r * n;
            for (std::int64_t c = 0; c < n; ++c) {
                const std::uint32_t bits = static_cast<std::uint32_t>(src[c]) << 16;
                std::memcpy(out + c, &bits, 4);
            }
            return;
        }
        case WeightFormat::fp8_block128: {
            const auto* src = static_cast<const std::uint8_t*>(w.data) + r * n;
            const std::uint8_t* srow = w.scales + (r / 128) * w.scale_cols;
            const float* table = fp8_e4m3_table();
            for (std::int64_t c0 = 0; c0 < n; c0 += 128) {
                const float s = e8m0_to_f32(srow[c0 / 128]);
                const std::int64_t c1 = std::min(n, c0 + 128);
                for (std::int64_t c = c0; c < c1; ++c) {
                    out[c] = table[src[c]] * s;
                }
            }
            return;
        }
        case WeightFormat::fp4_block32: {
            const auto* src = static_cast<const std::uint8_t*>(w.data) + r * (n / 2);
            const std::uint8_t* srow = w.scales + r * w.scale_cols;
            const float* pairs = fp4_pair_table();
            for (std::int64_t c0 = 0; c0 < n; c0 += 32) {
                const float s = e8m0_to_f32(srow[c0 / 32]);
                for (std::int64_t c = c0; c < c0 + 32; c += 2) {
                    const float* p = pairs + 2 * src[c / 2];
                    out[c] = p[0] * s;
                    out[c + 1] = p[1] * s;
                }
            }
            return;
        }
    }
}

float dot_portable(const float* a, const float* b, std::int64_t n) {
    // Eight partial sums keep the compiler free to vectorise without -ffast-math.
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; ++k) {
            acc[k] += a[i + k] * b[i + k];
        }
    }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; ++i) {
        s += a[i] * b[i];
    }
    return s;
}

#if defined(__x86_64__)
// ---- AVX2 + FMA -------------------------------------------------------------------------------
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, std::int64_t n) {
    __m256 s0 = _mm256_setzero_ps();
    __m256 s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps();
    __m256 s3 = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float r = _mm_cvtss_f32(h);
    for (; i < n; ++i) {
        r += a[i] * b[i];
    }
    return r;
}

// e4m3 → f32 without a table: place exponent+mantissa in the f32 field and rescale by 2^120
// (codes with exponent 0 become f32 subnormals, which the rescale makes exact).
__attribute__((target("avx2,fma"))) void dequant_fp8_avx2(const std::uint8_t* src, std::int64_t n,
                                                          float scale, float* out) {
    const __m256 k = _mm256_set1_ps(std::ldexp(1.0F, 120) * scale);
    const __m256i mag_mask = _mm256_set1_epi32(0x7F);
    const __m256i sign_mask = _mm256_set1_epi32(0x80);
    std::int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        __m128i b;
        std::int64_t raw;
        std::memcpy(&raw, src + c, 8);
        b = _mm_cvtsi64_si128(raw);
        const __m256i v = _mm256_cvtepu8_epi32(b);
        const __m256i mag = _mm256_slli_epi32(_mm256_and_si256(v, mag_mask), 20);
        const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(v, sign_mask), 24);
        const __m256 f = _mm256_mul_ps(_mm256_castsi256_ps(mag), k);
        _mm256_storeu_ps(out + c, _mm256_or_ps(f, _mm256_castsi256_ps(sign)));
    }
    const float* table = fp8_e4m3_table();
    for (; c < n; ++c) {
        out[c] = table[src[c]] * scale;
    }
}

__attribute__((target("avx2,fma"))) void dequant_row_avx2(const WeightMatrix& w, std::int64_t r,
                                                          float* out) {
    const std::int64_t n = w.cols;
    switch (w.format) {
        case WeightFormat::bf16: {
            const auto* src = static_cast<const std::uint16_t*>(w.data) + r * n;
            std::int64_t c = 0;
            for (; c + 8 <= n; c += 8) {
                const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
                const __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
                _mm256_storeu_ps(out + c, _mm256_castsi256_ps(v));
            }
            for (; c < n; ++c) {
                out[c] = bf16_to_f32(src[c]);
            }
            return;
        }
        case WeightFormat::fp8_block128: {
            const auto* src = static_cast<const std::uint8_t*>(w.data) + r * n;
            const std::uint8_t* srow = w.scales + (r / 128) * w.scale_cols;
            for (std::int64_t c0 = 0; c0 < n; c0 += 128) {
                dequant_fp8_avx2(src + c0, std::min<std::int64_t>(128, n - c0),
                                 e8m0_to_f32(srow[c0 / 128]), out + c0);
            }
            return;
        }
        case WeightFormat::fp4_block32: {
            // Table of the 8 magnitudes, selected per nibble; sign from bit 3.
            const __m256 mags = _mm256_setr_ps(0.0F, 0.5F, 1.0F, 1.5F, 2.0F, 3.0F, 4.0F, 6.0F);
            const auto* src = static_cast<const std::uint8_t*>(w.data) + r * (n / 2);
            const std::uint8_t* srow = w.scales + r * w.scale_cols;
            for (std::int64_t c0 = 0; c0 < n; c0 += 32) {
                const __m256 s = _mm256_set1_ps(e8m0_to_f32(srow[c0 / 32]));
                for (std::int64_t c = c0; c < c0 + 32; c += 8) {
                    std::int32_t raw;
                    std::memcpy(&raw, src + c / 2, 4);
                    // Bytes b0..b3 → 32-bit lanes [b0, b0, b1, b1, b2, b2, b3, b3], then shift the
                    // odd lanes by 4 so each lane holds its nibble in bits 0..3.
                    const __m256i bytes = _mm256_cvtepu8_epi32(_mm_cvtsi32_si128(raw));
                    const __m256i dup = _mm256_permutevar8x32_epi32(
                        bytes, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
                    const __m256i nib = _mm256_and_si256(
                        _mm256_srlv_epi32(dup, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4)),
                        _mm256_set1_epi32(0xF));
                    const __m256 mag = _mm256_permutevar8x32_ps(mags, nib);
                    const __m256i sign =
                        _mm256_slli_epi32(_mm256_and_si256(nib, _mm256_set1_epi32(8)), 28);
                    const __m256 v = _mm256_or_ps(mag, _mm256_castsi256_ps(sign));
                    _mm256_storeu_ps(out + c, _mm256_mul_ps(v, s));
                }
            }
            return;
        }
        case WeightFormat::f32:
            break;
    }
    dequant_row_portable(w, r, out);
}
#endif

enum class Variant { portable, avx2 };

Variant detect_variant() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return Variant::avx2;
    }
#endif
    return Variant::portable;
}

Variant variant() {
    static const Variant v = detect_variant();
    return v;
}

}  // namespace

std::int64_t WeightMatrix::bytes() const {
    switch (format) {
        case WeightFormat::f32:
            return rows * cols * 4;
        case WeightFormat::bf16:
            return rows * cols * 2;
        case WeightFormat::fp8_block128:
            return rows * cols + ((rows + 127) / 128) * scale_cols;
        case WeightFormat::fp4_block32:
            return rows * cols / 2 + rows * scale_cols;
    }
    return 0;
}

float weight_at(const WeightMatrix& w, std::int64_t row, std::int64_t col) {
    switch (w.format) {
        case WeightFormat::f32:
            return static_cast<const float*>(w.data)[row * w.cols + col];
        case WeightFormat::bf16:
            return bf16_to_f32(static_cast<const std::uint16_t*>(w.data)[row * w.cols + col]);
        case WeightFormat::fp8_block128: {
            const std::uint8_t code = static_cast<const std::uint8_t*>(w.data)[row * w.cols + col];
            const std::uint8_t s = w.scales[(row / 128) * w.scale_cols + col / 128];
            return fp8_e4m3_to_f32(code) * e8m0_to_f32(s);
        }
        case WeightFormat::fp4_block32: {
            const std::uint8_t byte =
                static_cast<const std::uint8_t*>(w.data)[row * (w.cols / 2) + col / 2];
            const std::uint8_t code = (col % 2 == 0) ? (byte & 0xF) : (byte >> 4);
            const std::uint8_t s = w.scales[row * w.scale_cols + col / 32];
            return fp4_e2m1_to_f32(code) * e8m0_to_f32(s);
        }
    }
    return 0.0F;
}

void dequant_row(const WeightMatrix& w, std::int64_t row, float* out) {
#if defined(__x86_64__)
    if (variant() == Variant::avx2) {
        dequant_row_avx2(w, row, out);
        return;
    }
#endif
    dequant_row_portable(w, row, out);
}

float dot(const float* a, const float* b, std::int64_t n) {
#if defined(__x86_64__)
    if (variant() == Variant::avx2) {
        return dot_avx2(a, b, n);
    }
#endif
    return dot_portable(a, b, n);
}

const char* linear_kernel_variant() {
    return variant() == Variant::avx2 ? "avx2" : "portable";
}

void linear_ref(const WeightMatrix& w, const float* x, std::int64_t tokens, float* y) {
    for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t r = 0; r < w.rows; ++r) {
            double acc = 0.0;
            for (std::int64_t c = 0; c < w.cols; ++c) {
                acc += static_cast<double>(x[t * w.cols + c]) * weight_at(w, r, c);
            }
            y[t * w.rows + r] = static_cast<float>(acc);
        }
    }
}

void linear(const WeightMatrix& w, const float* x, std::int64_t tokens, float* y,
            ThreadPool* pool) {
    const std::int64_t cols = w.cols;
    auto body = [&](std::int64_t r0, std::int64_t r1) {
        if (w.format == WeightFormat::f32) {
            const auto* base = static_cast<const float*>(w.data);
            for (std::int64_t r = r0; r < r1; ++r) {
                for (std::int64_t t = 0; t < tokens; ++t) {
                    y[t * w.rows + r] = dot(base + r * cols, x + t * cols, cols);
                }
            }
            return;
        }
        std::vector<float> row(static_cast<std::size_t>(cols));
        for (std::int64_t r = r0; r < r1; ++r) {
            dequant_row(w, r, row.data());
            for (std::int64_t t = 0; t < tokens; ++t) {
                y[t * w.rows + r] = dot(row.data(), x + t * cols, cols);
            }
        }
    };
    // Small problems are not worth waking the pool.
    if (pool == nullptr || w.rows * cols * std::max<std::int64_t>(tokens, 1) < (1 << 16)) {
        body(0, w.rows);
        return;
    }
    pool->parallel_for(w.rows, 8, body);
}

}  // namespace osprey::kernels
