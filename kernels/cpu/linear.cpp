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

// e4m3 → f32 through the fp16 bit pattern (same exponent layout with bias 15 instead of 7, so a
// shift and a 2^8 rescale); F16C converts fp16 subnormals exactly, so FP8 subnormals need no
// special case and never hit slow f32-subnormal arithmetic.
__attribute__((target("avx2,fma,f16c"))) void dequant_fp8_avx2(const std::uint8_t* src,
                                                               std::int64_t n, float scale,
                                                               float* out) {
    const __m256 k = _mm256_set1_ps(256.0F * scale);
    const __m256i mag16 = _mm256_set1_epi16(0x7F);
    const __m256i sign16 = _mm256_set1_epi16(static_cast<short>(0x80));
    std::int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
        const __m256i b = _mm256_cvtepu8_epi16(raw);
        const __m256i h = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(b, mag16), 7),
                                          _mm256_slli_epi16(_mm256_and_si256(b, sign16), 8));
        _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), k));
        _mm256_storeu_ps(out + c + 8,
                         _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), k));
    }
    const float* table = fp8_e4m3_table();
    for (; c < n; ++c) {
        out[c] = table[src[c]] * scale;
    }
}

__attribute__((target("avx2,fma,f16c"))) void dequant_row_avx2(const WeightMatrix& w,
                                                               std::int64_t r, float* out) {
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

// Fused dequantize + dot for a few tokens (decode): each 8-wide weight vector is decoded once in
// registers and multiplied into up to 4 token accumulators, so the row never round-trips memory.
template <int T>
__attribute__((target("avx2,fma,f16c"))) void gemv_rows_avx2(const WeightMatrix& w, const float* x,
                                                             float* y, std::int64_t r0,
                                                             std::int64_t r1) {
    const std::int64_t n = w.cols;
    const __m256 mags = _mm256_setr_ps(0.0F, 0.5F, 1.0F, 1.5F, 2.0F, 3.0F, 4.0F, 6.0F);
    const __m256i dup_idx = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i shifts = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
    for (std::int64_t r = r0; r < r1; ++r) {
        __m256 acc[T];
        for (int t = 0; t < T; ++t) {
            acc[t] = _mm256_setzero_ps();
        }
        std::int64_t c = 0;
        switch (w.format) {
            case WeightFormat::bf16: {
                const auto* src = static_cast<const std::uint16_t*>(w.data) + r * n;
                for (; c + 8 <= n; c += 8) {
                    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
                    const __m256 v =
                        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
                    for (int t = 0; t < T; ++t) {
                        acc[t] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + t * n + c), acc[t]);
                    }
                }
                break;
            }
            case WeightFormat::fp8_block128: {
                const auto* src = static_cast<const std::uint8_t*>(w.data) + r * n;
                const std::uint8_t* srow = w.scales + (r / 128) * w.scale_cols;
                // e4m3 → fp16 bit pattern (exponent bias 7 vs 15: shift, then scale by 2^8);
                // F16C converts fp16 subnormals exactly, so FP8 subnormals need no special case.
                const __m256i mag16 = _mm256_set1_epi16(0x7F);
                const __m256i sign16 = _mm256_set1_epi16(static_cast<short>(0x80));
                for (std::int64_t c0 = 0; c0 + 128 <= n; c0 += 128) {
                    const __m256 k = _mm256_set1_ps(256.0F * e8m0_to_f32(srow[c0 / 128]));
                    for (c = c0; c < c0 + 128; c += 16) {
                        const __m128i raw =
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
                        const __m256i b = _mm256_cvtepu8_epi16(raw);
                        const __m256i h =
                            _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(b, mag16), 7),
                                            _mm256_slli_epi16(_mm256_and_si256(b, sign16), 8));
                        const __m256 v0 =
                            _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), k);
                        const __m256 v1 =
                            _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), k);
                        for (int t = 0; t < T; ++t) {
                            acc[t] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(x + t * n + c), acc[t]);
                            acc[t] =
                                _mm256_fmadd_ps(v1, _mm256_loadu_ps(x + t * n + c + 8), acc[t]);
                        }
                    }
                }
                break;
            }
            case WeightFormat::fp4_block32: {
                const auto* src = static_cast<const std::uint8_t*>(w.data) + r * (n / 2);
                const std::uint8_t* srow = w.scales + r * w.scale_cols;
                for (; c + 32 <= n; c += 32) {
                    const __m256 s = _mm256_set1_ps(e8m0_to_f32(srow[c / 32]));
                    for (int q = 0; q < 32; q += 8) {
                        std::int32_t raw;
                        std::memcpy(&raw, src + (c + q) / 2, 4);
                        const __m256i bytes = _mm256_cvtepu8_epi32(_mm_cvtsi32_si128(raw));
                        const __m256i nib = _mm256_and_si256(
                            _mm256_srlv_epi32(_mm256_permutevar8x32_epi32(bytes, dup_idx), shifts),
                            _mm256_set1_epi32(0xF));
                        const __m256 mag = _mm256_permutevar8x32_ps(mags, nib);
                        const __m256i sign =
                            _mm256_slli_epi32(_mm256_and_si256(nib, _mm256_set1_epi32(8)), 28);
                        const __m256 v =
                            _mm256_mul_ps(_mm256_or_ps(mag, _mm256_castsi256_ps(sign)), s);
                        for (int t = 0; t < T; ++t) {
                            acc[t] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + t * n + c + q), acc[t]);
                        }
                    }
                }
                break;
            }
            case WeightFormat::f32: {
                const auto* src = static_cast<const float*>(w.data) + r * n;
                for (; c + 8 <= n; c += 8) {
                    const __m256 v = _mm256_loadu_ps(src + c);
                    for (int t = 0; t < T; ++t) {
                        acc[t] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + t * n + c), acc[t]);
                    }
                }
                break;
            }
        }
        for (int t = 0; t < T; ++t) {
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
            float sum = _mm_cvtss_f32(h);
            for (std::int64_t cc = c; cc < n; ++cc) {
                sum += weight_at(w, r, cc) * x[t * n + cc];
            }
            y[t * w.rows + r] = sum;
        }
    }
}

__attribute__((target("avx2,fma,f16c"))) bool gemv_avx2(const WeightMatrix& w, const float* x,
                                                        std::int64_t tokens, float* y,
                                                        std::int64_t r0, std::int64_t r1) {
    switch (tokens) {
        case 1:
            gemv_rows_avx2<1>(w, x, y, r0, r1);
            return true;
        case 2:
            gemv_rows_avx2<2>(w, x, y, r0, r1);
            return true;
        case 3:
            gemv_rows_avx2<3>(w, x, y, r0, r1);
            return true;
        case 4:
            gemv_rows_avx2<4>(w, x, y, r0, r1);
            return true;
        default:
            return false;
    }
}
// GCC 12's AVX-512 headers build results from _mm512_undefined_*(), which its own -Wuninitialized
// flags once inlined (a known false positive); silence it for these functions only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // GCC-only warning; clang (fuzz build) rejects it
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// ---- AVX-512 (F) --------------------------------------------------------------------------------
__attribute__((target("avx512f"))) float dot_avx512(const float* a, const float* b,
                                                    std::int64_t n) {
    __m512 s0 = _mm512_setzero_ps();
    __m512 s1 = _mm512_setzero_ps();
    std::int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    }
    float r = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; ++i) {
        r += a[i] * b[i];
    }
    return r;
}

// The fused decode GEMV, 16 lanes: bf16 by shifting, FP8 through the fp16 pattern (vcvtph2ps),
// FP4 through a 16-entry register table indexed by the whole nibble (sign included).
template <int T>
__attribute__((target("avx512f"))) void gemv_rows_avx512(const WeightMatrix& w, const float* x,
                                                         float* y, std::int64_t r0,
                                                         std::int64_t r1) {
    const std::int64_t n = w.cols;
    const __m512 fp4_table = _mm512_setr_ps(0.0F, 0.5F, 1.0F, 1.5F, 2.0F, 3.0F, 4.0F, 6.0F, -0.0F,
                                            -0.5F, -1.0F, -1.5F, -2.0F, -3.0F, -4.0F, -6.0F);
    for (std::int64_t r = r0; r < r1; ++r) {
        __m512 acc[T];
        for (int t = 0; t < T; ++t) {
            acc[t] = _mm512_setzero_ps();
        }
        std::int64_t c = 0;
        switch (w.format) {
            case WeightFormat::bf16: {
                const auto* src = static_cast<const std::uint16_t*>(w.data) + r * n;
                for (; c + 16 <= n; c += 16) {
                    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + c));
                    const __m512 v =
                        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
                    for (int t = 0; t < T; ++t) {
                        acc[t] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + t * n + c), acc[t]);
                    }
                }
                break;
            }
            case WeightFormat::fp8_block128: {
                const auto* src = static_cast<const std::uint8_t*>(w.data) + r * n;
                const std::uint8_t* srow = w.scales + (r / 128) * w.scale_cols;
                const __m256i mag16 = _mm256_set1_epi16(0x7F);
                const __m256i sign16 = _mm256_set1_epi16(static_cast<short>(0x80));
                for (std::int64_t c0 = 0; c0 + 128 <= n; c0 += 128) {
                    const __m512 k = _mm512_set1_ps(256.0F * e8m0_to_f32(srow[c0 / 128]));
                    for (c = c0; c < c0 + 128; c += 16) {
                        const __m128i raw =
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
                        const __m256i b = _mm256_cvtepu8_epi16(raw);
                        const __m256i h =
                            _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(b, mag16), 7),
                                            _mm256_slli_epi16(_mm256_and_si256(b, sign16), 8));
                        const __m512 v = _mm512_mul_ps(_mm512_cvtph_ps(h), k);
                        for (int t = 0; t < T; ++t) {
                            acc[t] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + t * n + c), acc[t]);
                        }
                    }
                }
                break;
            }
            case WeightFormat::fp4_block32: {
                const auto* src = static_cast<const std::uint8_t*>(w.data) + r * (n / 2);
                const std::uint8_t* srow = w.scales + r * w.scale_cols;
                const __m512i shifts =
                    _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
                const __m512i dup =
                    _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                for (; c + 32 <= n; c += 32) {
                    const __m512 s = _mm512_set1_ps(e8m0_to_f32(srow[c / 32]));
                    for (int q = 0; q < 32; q += 16) {
                        std::int64_t raw;
                        std::memcpy(&raw, src + (c + q) / 2, 8);
                        const __m512i bytes = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128(raw));
                        const __m512i nib = _mm512_and_si512(
                            _mm512_srlv_epi32(_mm512_permutexvar_epi32(dup, bytes), shifts),
                            _mm512_set1_epi32(0xF));
                        const __m512 v = _mm512_mul_ps(_mm512_permutexvar_ps(nib, fp4_table), s);
                        for (int t = 0; t < T; ++t) {
                            acc[t] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + t * n + c + q), acc[t]);
                        }
                    }
                }
                break;
            }
            case WeightFormat::f32: {
                const auto* src = static_cast<const float*>(w.data) + r * n;
                for (; c + 16 <= n; c += 16) {
                    const __m512 v = _mm512_loadu_ps(src + c);
                    for (int t = 0; t < T; ++t) {
                        acc[t] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + t * n + c), acc[t]);
                    }
                }
                break;
            }
        }
        for (int t = 0; t < T; ++t) {
            float sum = _mm512_reduce_add_ps(acc[t]);
            for (std::int64_t cc = c; cc < n; ++cc) {
                sum += weight_at(w, r, cc) * x[t * n + cc];
            }
            y[t * w.rows + r] = sum;
        }
    }
}

// Register-blocked micro-kernel for prefill: 4 dequantized weight rows x 4 tokens, 16 accumulators,
// so each loaded vector feeds 4 FMAs instead of one (a dot product is load-bound).
__attribute__((target("avx512f"))) void micro_4x4_avx512(const float* w, const float* x,
                                                         std::int64_t n, float* y,
                                                         std::int64_t y_stride) {
    __m512 acc[4][4];
    for (auto& row : acc) {
        for (auto& a : row) {
            a = _mm512_setzero_ps();
        }
    }
    std::int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        __m512 wv[4];
        for (int i = 0; i < 4; ++i) {
            wv[i] = _mm512_loadu_ps(w + i * n + c);
        }
        for (int t = 0; t < 4; ++t) {
            const __m512 xv = _mm512_loadu_ps(x + t * n + c);
            for (int i = 0; i < 4; ++i) {
                acc[i][t] = _mm512_fmadd_ps(wv[i], xv, acc[i][t]);
            }
        }
    }
    for (int t = 0; t < 4; ++t) {
        for (int i = 0; i < 4; ++i) {
            float sum = _mm512_reduce_add_ps(acc[i][t]);
            for (std::int64_t cc = c; cc < n; ++cc) {
                sum += w[i * n + cc] * x[t * n + cc];
            }
            y[t * y_stride + i] = sum;
        }
    }
}

__attribute__((target("avx512f"))) bool gemv_avx512(const WeightMatrix& w, const float* x,
                                                    std::int64_t tokens, float* y, std::int64_t r0,
                                                    std::int64_t r1) {
    switch (tokens) {
        case 1:
            gemv_rows_avx512<1>(w, x, y, r0, r1);
            return true;
        case 2:
            gemv_rows_avx512<2>(w, x, y, r0, r1);
            return true;
        case 3:
            gemv_rows_avx512<3>(w, x, y, r0, r1);
            return true;
        case 4:
            gemv_rows_avx512<4>(w, x, y, r0, r1);
            return true;
        default:
            return false;
    }
}
#pragma GCC diagnostic pop
#endif

Variant detect_variant() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    // F16C is not a __builtin_cpu_supports name in GCC 12: CPUID.1:ECX bit 29.
    unsigned eax = 1, ebx = 0, ecx = 0, edx = 0;
    __asm__("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
    const bool f16c = (ecx >> 29) & 1U;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) {
        return __builtin_cpu_supports("avx512f") ? Variant::avx512 : Variant::avx2;
    }
#endif
    return Variant::portable;
}

}  // namespace

Variant best_kernel_variant() {
    static const Variant v = detect_variant();
    return v;
}

const char* to_string(Variant v) {
    switch (v) {
        case Variant::avx512:
            return "avx512";
        case Variant::avx2:
            return "avx2";
        case Variant::portable:
            return "portable";
    }
    return "?";
}

namespace {

Variant variant() {
    return best_kernel_variant();
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
    if (variant() != Variant::portable) {
        dequant_row_avx2(w, row, out);
        return;
    }
#endif
    dequant_row_portable(w, row, out);
}

float dot(const float* a, const float* b, std::int64_t n) {
#if defined(__x86_64__)
    if (variant() == Variant::avx512) {
        return dot_avx512(a, b, n);
    }
    if (variant() == Variant::avx2) {
        return dot_avx2(a, b, n);
    }
#endif
    return dot_portable(a, b, n);
}

const char* linear_kernel_variant() {
    return to_string(variant());
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
    linear(w, x, tokens, y, pool, variant());
}

void linear(const WeightMatrix& w, const float* x, std::int64_t tokens, float* y, ThreadPool* pool,
            Variant v) {
    if (v > variant()) {
        v = variant();  // never run instructions this CPU lacks
    }
    const std::int64_t cols = w.cols;
    auto body = [&](std::int64_t r0, std::int64_t r1) {
#if defined(__x86_64__)
        if (v == Variant::avx512 && gemv_avx512(w, x, tokens, y, r0, r1)) {
            return;
        }
        if (v == Variant::avx2 && gemv_avx2(w, x, tokens, y, r0, r1)) {
            return;
        }
#endif
        auto dot_v = [&](const float* a, const float* b) {
#if defined(__x86_64__)
            if (v == Variant::avx512) {
                return dot_avx512(a, b, cols);
            }
            if (v == Variant::avx2) {
                return dot_avx2(a, b, cols);
            }
#endif
            return dot_portable(a, b, cols);
        };
        if (w.format == WeightFormat::f32) {
            const auto* base = static_cast<const float*>(w.data);
            for (std::int64_t r = r0; r < r1; ++r) {
                for (std::int64_t t = 0; t < tokens; ++t) {
                    y[t * w.rows + r] = dot_v(base + r * cols, x + t * cols);
                }
            }
            return;
        }
        // Cache blocking for prefill: a tile of kTile rows is dequantized once (it stays in L2)
        // and each token's activations are read once per tile instead of once per row.
        constexpr std::int64_t kTile = 8;
        std::vector<float> tile(static_cast<std::size_t>(kTile * cols));
        for (std::int64_t rt = r0; rt < r1; rt += kTile) {
            const std::int64_t nr = std::min(kTile, r1 - rt);
            for (std::int64_t i = 0; i < nr; ++i) {
                float* row = tile.data() + i * cols;
#if defined(__x86_64__)
                if (v != Variant::portable) {
                    dequant_row_avx2(w, rt + i, row);
                } else {
                    dequant_row_portable(w, rt + i, row);
                }
#else
                dequant_row_portable(w, rt + i, row);
#endif
            }
            std::int64_t t0 = 0;
#if defined(__x86_64__)
            if (v == Variant::avx512 && nr % 4 == 0) {
                for (; t0 + 4 <= tokens; t0 += 4) {
                    for (std::int64_t i = 0; i < nr; i += 4) {
                        micro_4x4_avx512(tile.data() + i * cols, x + t0 * cols, cols,
                                         y + t0 * w.rows + rt + i, w.rows);
                    }
                }
            }
#endif
            for (std::int64_t t = t0; t < tokens; ++t) {
                const float* xt = x + t * cols;
                for (std::int64_t i = 0; i < nr; ++i) {
                    y[t * w.rows + rt + i] = dot_v(tile.data() + i * cols, xt);
                }
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
