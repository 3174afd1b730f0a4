#include "kernels/cpu/formats.hpp"

#include <algorithm>
#include <array>
#include <cfenv>
#include <limits>

namespace osprey::kernels {
namespace {

std::array<float, 256> make_fp8_table() {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const int sign = (c >> 7) & 1;
        const int e = (c >> 3) & 0xF;
        const int m = c & 7;
        float v;
        if (e == 15 && m == 7) {
            v = std::numeric_limits<float>::quiet_NaN();
        } else if (e == 0) {
            v = std::ldexp(static_cast<float>(m), -9);
        } else {
            v = std::ldexp(1.0F + static_cast<float>(m) / 8.0F, e - 7);
        }
        t[static_cast<std::size_t>(c)] = sign ? -v : v;
    }
    return t;
}

constexpr std::array<float, 16> kFp4Table = {0.0F,  0.5F,  1.0F,  1.5F,  2.0F,  3.0F,
                                             4.0F,  6.0F,  -0.0F, -0.5F, -1.0F, -1.5F,
                                             -2.0F, -3.0F, -4.0F, -6.0F};

// Round half to even of a non-negative value (independent of the current rounding mode).
float rne(float v) {
    const float f = std::floor(v);
    const float d = v - f;
    if (d > 0.5F) {
        return f + 1.0F;
    }
    if (d < 0.5F) {
        return f;
    }
    return std::fmod(f, 2.0F) == 0.0F ? f : f + 1.0F;
}

}  // namespace

const float* fp8_e4m3_table() {
    static const std::array<float, 256> table = make_fp8_table();
    return table.data();
}

float fp8_e4m3_to_f32(std::uint8_t code) {
    return fp8_e4m3_table()[code];
}

std::uint8_t f32_to_fp8_e4m3(float f) {
    if (std::isnan(f)) {
        return 0x7F;
    }
    const std::uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
    float a = std::fabs(f);
    if (a >= kFp8Max) {
        return static_cast<std::uint8_t>(sign | 0x7E);
    }
    const float min_normal = std::ldexp(1.0F, -6);
    if (a < min_normal) {
        // Subnormal grid m·2^-9; m == 8 is the smallest normal (code 8), which the layout absorbs.
        const float q = rne(std::ldexp(a, 9));
        return static_cast<std::uint8_t>(sign | static_cast<int>(q));
    }
    int e2 = 0;
    const float frac = std::frexp(a, &e2);  // a = frac * 2^e2, frac in [0.5, 1)
    int exponent = e2 - 1;                  // a = (2*frac) * 2^exponent
    float m = rne((2.0F * frac - 1.0F) * 8.0F);
    if (m >= 8.0F) {
        m = 0.0F;
        ++exponent;
    }
    const int e = exponent + 7;
    if (e > 15 || (e == 15 && m >= 7.0F)) {
        return static_cast<std::uint8_t>(sign | 0x7E);
    }
    return static_cast<std::uint8_t>(sign | (e << 3) | static_cast<int>(m));
}

const float* fp4_e2m1_table() {
    return kFp4Table.data();
}

std::uint8_t f32_to_fp4_e2m1(float f) {
    const std::uint8_t sign = std::signbit(f) ? 0x8 : 0x0;
    const float a = std::fabs(f);
    if (std::isnan(f) || a >= 6.0F) {
        return static_cast<std::uint8_t>(sign | 7);
    }
    for (int k = 0; k < 7; ++k) {
        const float lo = kFp4Table[static_cast<std::size_t>(k)];
        const float hi = kFp4Table[static_cast<std::size_t>(k + 1)];
        if (a > hi) {
            continue;
        }
        const float mid = 0.5F * (lo + hi);
        int code;
        if (a < mid) {
            code = k;
        } else if (a > mid) {
            code = k + 1;
        } else {
            code = (k % 2 == 0) ? k : k + 1;  // tie: even mantissa bit
        }
        return static_cast<std::uint8_t>(sign | code);
    }
    return static_cast<std::uint8_t>(sign | 7);
}

std::uint8_t pow2_scale_code(float amax, float fmt_max) {
    const float inv = 1.0F / fmt_max;  // fl32(1/M)
    const float t = amax * inv;
    std::uint32_t bits;
    std::memcpy(&bits, &t, 4);
    int exp_field = static_cast<int>((bits >> 23) & 0xFF);
    const std::uint32_t mant = bits & 0x7FFFFFU;
    int e;
    if (exp_field == 0) {
        // Subnormal t (cannot happen with the amax floors, kept total): ceil(log2 t) exactly.
        int e2 = 0;
        const float frac = std::frexp(t, &e2);
        e = (frac == 0.5F) ? e2 - 1 : e2;
    } else {
        e = exp_field - 127 + (mant != 0 ? 1 : 0);
    }
    return static_cast<std::uint8_t>(std::clamp(e + 127, 0, 254));
}

namespace {

float block_amax(const float* x, int n) {
    float a = 0.0F;
    for (int i = 0; i < n; ++i) {
        a = std::max(a, std::fabs(x[i]));
    }
    return a;
}

}  // namespace

std::uint8_t fp8_quant_dequant_block(float* x, int n) {
    const float amax = std::max(block_amax(x, n), kFp8AmaxFloor);
    const std::uint8_t code = pow2_scale_code(amax, kFp8Max);
    const float s = e8m0_to_f32(code);
    const float* table = fp8_e4m3_table();
    for (int i = 0; i < n; ++i) {
        const float v = std::clamp(x[i] / s, -kFp8Max, kFp8Max);
        x[i] = table[f32_to_fp8_e4m3(v)] * s;
    }
    return code;
}

std::uint8_t fp8_quantize_block(const float* x, int n, std::uint8_t* codes) {
    const float amax = std::max(block_amax(x, n), kFp8AmaxFloor);
    const std::uint8_t code = pow2_scale_code(amax, kFp8Max);
    const float s = e8m0_to_f32(code);
    for (int i = 0; i < n; ++i) {
        codes[i] = f32_to_fp8_e4m3(std::clamp(x[i] / s, -kFp8Max, kFp8Max));
    }
    return code;
}

std::uint8_t fp4_quant_dequant_block(float* x, int n) {
    const float amax = std::max(block_amax(x, n), kFp4AmaxFloor);
    const std::uint8_t code = pow2_scale_code(amax, kFp4Max);
    const float s = e8m0_to_f32(code);
    for (int i = 0; i < n; ++i) {
        const float v = std::clamp(x[i] / s, -kFp4Max, kFp4Max);
        x[i] = kFp4Table[f32_to_fp4_e2m1(v)] * s;
    }
    return code;
}

void fp8_quant_dequant(float* x, int n, int block) {
    for (int i = 0; i < n; i += block) {
        fp8_quant_dequant_block(x + i, std::min(block, n - i));
    }
}

void fp4_quant_dequant(float* x, int n, int block) {
    for (int i = 0; i < n; i += block) {
        fp4_quant_dequant_block(x + i, std::min(block, n - i));
    }
}

void hadamard_rotate(float* x, int n) {
    for (int h = 1; h < n; h *= 2) {
        for (int i = 0; i < n; i += 2 * h) {
            for (int j = i; j < i + h; ++j) {
                const float a = x[j];
                const float b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
    }
    const float scale = 1.0F / std::sqrt(static_cast<float>(n));
    for (int i = 0; i < n; ++i) {
        x[i] *= scale;
    }
}

}  // namespace osprey::kernels
