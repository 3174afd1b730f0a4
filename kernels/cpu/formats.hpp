#pragma once
// Numeric formats of DeepSeek-V4 checkpoints and activations (spec §2): bf16, FP8 e4m3fn, FP4 e2m1,
// E8M0 scales, the power-of-two scale rule and the quantize-dequantize simulations. All of these
// are bit-exact definitions; every conversion into a narrow format rounds to nearest, ties to even.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace osprey::kernels {

// ---- bf16 -----------------------------------------------------------------------------------
inline float bf16_to_f32(std::uint16_t bits) {
    const std::uint32_t w = static_cast<std::uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
}

// Round-to-nearest-even to bfloat16 (NaN stays NaN).
inline std::uint16_t f32_to_bf16(float f) {
    std::uint32_t w;
    std::memcpy(&w, &f, 4);
    if ((w & 0x7fffffffU) > 0x7f800000U) {
        return static_cast<std::uint16_t>((w >> 16) | 0x40U);
    }
    w += 0x7fffU + ((w >> 16) & 1U);
    return static_cast<std::uint16_t>(w >> 16);
}

// bf16(x) as a float.
inline float round_bf16(float f) {
    return bf16_to_f32(f32_to_bf16(f));
}

// ---- E8M0 -----------------------------------------------------------------------------------
// 2^(c-127); 255 is NaN.
inline float e8m0_to_f32(std::uint8_t c) {
    if (c == 255) {
        return std::numeric_limits<float>::quiet_NaN();
    }
    if (c == 0) {
        return std::ldexp(1.0F, -127);  // subnormal float
    }
    const std::uint32_t w = static_cast<std::uint32_t>(c) << 23;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
}

// ---- FP8 e4m3fn -----------------------------------------------------------------------------
float fp8_e4m3_to_f32(std::uint8_t code);
// The 256 decoded values, for table lookups in kernels.
const float* fp8_e4m3_table();
// Round-to-nearest-even into e4m3fn; values beyond ±448 saturate (callers clamp first); NaN → 0x7F.
std::uint8_t f32_to_fp8_e4m3(float f);

// ---- FP4 e2m1 -------------------------------------------------------------------------------
// Code → value: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and the negatives (code | 8).
const float* fp4_e2m1_table();
inline float fp4_e2m1_to_f32(std::uint8_t code) {
    return fp4_e2m1_table()[code & 0xF];
}
// Round-to-nearest-even into e2m1 (saturating at ±6).
std::uint8_t f32_to_fp4_e2m1(float f);

// ---- power-of-two scale rule (spec §2.2) ----------------------------------------------------
inline constexpr float kFp8Max = 448.0F;
inline constexpr float kFp4Max = 6.0F;
inline constexpr float kFp8AmaxFloor = 1e-4F;
// 6 * 2^-126
inline const float kFp4AmaxFloor = 6.0F * std::ldexp(1.0F, -126);

// The E8M0 exponent code of s = 2^ceil(log2(amax * fl32(1/fmt_max))), amax already clamped.
std::uint8_t pow2_scale_code(float amax, float fmt_max);

// Quantize `n` values in place onto the FP8 grid with one power-of-two scale for the block
// (spec §2.2/§2.4, M = 448, amax floor 1e-4): x ← fp8(clamp(x/s)) · s. Returns the scale code.
std::uint8_t fp8_quant_dequant_block(float* x, int n);
// Same onto the FP4 grid (M = 6, amax floor 6·2^-126).
std::uint8_t fp4_quant_dequant_block(float* x, int n);
// Block-wise over a vector of length n (last block may be shorter).
void fp8_quant_dequant(float* x, int n, int block);
void fp4_quant_dequant(float* x, int n, int block);

// Quantize a block to codes (for compact storage): writes `n` codes, returns the scale code.
std::uint8_t fp8_quantize_block(const float* x, int n, std::uint8_t* codes);

// Sylvester Hadamard rotation over n (power of two) values scaled by n^-1/2, in fp32 (spec §2.6).
void hadamard_rotate(float* x, int n);

}  // namespace osprey::kernels
