// Bit-exact checks of the numeric formats and quantizers of spec §2.1–§2.4 and §2.6.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/formats.hpp"

using namespace osprey::kernels;

namespace {

// Brute-force nearest code with ties to the even code (= even mantissa bit), over finite codes.
template <typename Decode>
int nearest_code(float x, int codes, Decode decode) {
    int best = -1;
    double best_d = 0.0;
    for (int c = 0; c < codes; ++c) {
        const float v = decode(c);
        if (std::isnan(v) || std::signbit(v) != std::signbit(x)) {
            continue;
        }
        const double d = std::fabs(static_cast<double>(v) - static_cast<double>(x));
        if (best < 0 || d < best_d || (d == best_d && (c % 2 == 0) && (best % 2 != 0))) {
            best = c;
            best_d = d;
        }
    }
    return best;
}

}  // namespace

TEST_CASE("bf16 rounds to nearest even") {
    CHECK(round_bf16(1.0F + std::ldexp(1.0F, -8)) == 1.0F);
    CHECK(round_bf16(1.0F + 3 * std::ldexp(1.0F, -8)) == 1.0F + std::ldexp(1.0F, -6));
    CHECK(round_bf16(1.0F + std::ldexp(1.0F, -7)) == 1.0F + std::ldexp(1.0F, -7));
    CHECK(f32_to_bf16(-2.0F) == 0xC000);
    CHECK(bf16_to_f32(0x3F80) == 1.0F);
    CHECK(std::isnan(round_bf16(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("E8M0 scales are powers of two") {
    CHECK(e8m0_to_f32(127) == 1.0F);
    CHECK(e8m0_to_f32(128) == 2.0F);
    CHECK(e8m0_to_f32(120) == std::ldexp(1.0F, -7));
    CHECK(e8m0_to_f32(0) == std::ldexp(1.0F, -127));
    CHECK(std::isnan(e8m0_to_f32(255)));
}

TEST_CASE("FP8 e4m3fn decodes every code") {
    CHECK(fp8_e4m3_to_f32(0x00) == 0.0F);
    CHECK(fp8_e4m3_to_f32(0x01) == std::ldexp(1.0F, -9));
    CHECK(fp8_e4m3_to_f32(0x07) == 7 * std::ldexp(1.0F, -9));
    CHECK(fp8_e4m3_to_f32(0x08) == std::ldexp(1.0F, -6));
    CHECK(fp8_e4m3_to_f32(0x38) == 1.0F);
    CHECK(fp8_e4m3_to_f32(0x39) == 1.125F);
    CHECK(fp8_e4m3_to_f32(0x7E) == 448.0F);
    CHECK(fp8_e4m3_to_f32(0xFE) == -448.0F);
    CHECK(fp8_e4m3_to_f32(0xB8) == -1.0F);
    CHECK(std::isnan(fp8_e4m3_to_f32(0x7F)));
    CHECK(std::isnan(fp8_e4m3_to_f32(0xFF)));
    for (int c = 0; c < 256; ++c) {
        const float v = fp8_e4m3_to_f32(static_cast<std::uint8_t>(c));
        if (!std::isnan(v)) {
            INFO("code " << c);
            CHECK(f32_to_fp8_e4m3(v) == c);
        }
    }
}

TEST_CASE("FP8 e4m3fn encoding rounds to nearest, ties to even, and saturates") {
    CHECK(f32_to_fp8_e4m3(1.0625F) == 0x38);             // tie 1.0 / 1.125 → even
    CHECK(f32_to_fp8_e4m3(1.1875F) == 0x3A);             // tie 1.125 / 1.25 → even
    CHECK(f32_to_fp8_e4m3(std::ldexp(1.0F, -10)) == 0);  // tie 0 / 2^-9 → 0
    CHECK(f32_to_fp8_e4m3(3 * std::ldexp(1.0F, -10)) == 0x02);
    CHECK(f32_to_fp8_e4m3(500.0F) == 0x7E);
    CHECK(f32_to_fp8_e4m3(-1000.0F) == 0xFE);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> mant(-1.0F, 1.0F);
    std::uniform_int_distribution<int> ex(-12, 8);
    for (int i = 0; i < 20000; ++i) {
        const float x = std::ldexp(mant(rng), ex(rng));
        if (std::fabs(x) > 448.0F) {
            continue;
        }
        const int want = nearest_code(
            x, 256, [](int c) { return fp8_e4m3_to_f32(static_cast<std::uint8_t>(c)); });
        INFO("x = " << x);
        REQUIRE(fp8_e4m3_to_f32(f32_to_fp8_e4m3(x)) ==
                fp8_e4m3_to_f32(static_cast<std::uint8_t>(want)));
    }
}

TEST_CASE("FP4 e2m1 table and round-to-nearest-even encoding") {
    const float table[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0F, -0.5, -1, -1.5, -2, -3, -4, -6};
    for (int c = 0; c < 16; ++c) {
        CHECK(fp4_e2m1_to_f32(static_cast<std::uint8_t>(c)) == table[c]);
        CHECK(std::signbit(fp4_e2m1_to_f32(static_cast<std::uint8_t>(c))) == (c >= 8));
    }
    CHECK(f32_to_fp4_e2m1(0.25F) == 0);
    CHECK(f32_to_fp4_e2m1(0.75F) == 2);
    CHECK(f32_to_fp4_e2m1(1.25F) == 2);
    CHECK(f32_to_fp4_e2m1(1.75F) == 4);
    CHECK(f32_to_fp4_e2m1(2.5F) == 4);
    CHECK(f32_to_fp4_e2m1(3.5F) == 6);
    CHECK(f32_to_fp4_e2m1(5.0F) == 6);
    CHECK(f32_to_fp4_e2m1(7.0F) == 7);
    CHECK(f32_to_fp4_e2m1(-2.5F) == 12);
    for (float x = -6.0F; x <= 6.0F; x += 0.03125F) {
        const int want = nearest_code(
            x, 16, [](int c) { return fp4_e2m1_to_f32(static_cast<std::uint8_t>(c)); });
        INFO("x = " << x);
        CHECK(fp4_e2m1_to_f32(f32_to_fp4_e2m1(x)) ==
              fp4_e2m1_to_f32(static_cast<std::uint8_t>(want)));
    }
}

TEST_CASE("power-of-two scale: ceil(log2(amax * fl32(1/M))) from the fp32 bits") {
    // amax 1, FP8: t = fl32(1/448) ∈ (2^-9, 2^-8) → 2^-8.
    CHECK(pow2_scale_code(1.0F, kFp8Max) == 127 - 8);
    // amax 448: t = 448·fl32(1/448) rounds to exactly 1 → 2^0.
    const float t448 = 448.0F * (1.0F / 448.0F);
    CHECK(pow2_scale_code(448.0F, kFp8Max) == (t448 == 1.0F ? 127 : 128));
    // amax 6, FP4: 6·fl32(1/6) = 1 in fp32 → 2^0.
    CHECK(pow2_scale_code(6.0F, kFp4Max) == 127);
    // Exact powers of two stay; anything above goes up.
    CHECK(pow2_scale_code(3.0F, kFp4Max) == 126);
    CHECK(pow2_scale_code(3.01F, kFp4Max) == 127);
    // The FP4 floor lands on the smallest normal scale.
    CHECK(pow2_scale_code(kFp4AmaxFloor, kFp4Max) == 1);
}

TEST_CASE("FP8 activation / KV quantize-dequantize of a block") {
    float x[3] = {3.0F, 0.1F, -1.7F};
    // amax 3 → s = 2^-7; x/s = 384, 12.8, -217.6 → 384, 13, -224.
    CHECK(fp8_quant_dequant_block(x, 3) == 120);
    CHECK(x[0] == 3.0F);
    CHECK(x[1] == 13.0F / 128.0F);
    CHECK(x[2] == -1.75F);
    float zeros[4] = {0, 0, 0, 0};
    fp8_quant_dequant_block(zeros, 4);  // amax floor 1e-4: no division by zero
    CHECK(zeros[0] == 0.0F);
    float tiny[2] = {1e-6F, -2e-5F};
    const std::uint8_t code = fp8_quant_dequant_block(tiny, 2);
    CHECK(code == pow2_scale_code(kFp8AmaxFloor, kFp8Max));
    std::vector<float> v(130, 1.0F);
    v[129] = 100.0F;  // second block of 128 has its own scale
    fp8_quant_dequant(v.data(), 130, 128);
    CHECK(v[0] == 1.0F);
    // Second block: s = 2^-2, 100/s = 400 is a tie between 384 and 416 → even mantissa → 96.
    CHECK(v[128] == 1.0F);
    CHECK(v[129] == 96.0F);
}

TEST_CASE("FP4 quantize-dequantize of a block of 32") {
    std::vector<float> x(32, 0.0F);
    x[0] = 1.0F;
    x[1] = 0.2F;
    x[2] = -0.6F;
    // amax 1 → s = 2^-2; x/s = 4, 0.8, -2.4 → 4, 1, -2.
    CHECK(fp4_quant_dequant_block(x.data(), 32) == 125);
    CHECK(x[0] == 1.0F);
    CHECK(x[1] == 0.25F);
    CHECK(x[2] == -0.5F);
    CHECK(x[3] == 0.0F);
}

TEST_CASE("Hadamard rotation is the scaled Sylvester transform") {
    float e0[4] = {1, 0, 0, 0};
    hadamard_rotate(e0, 4);
    for (float v : e0) {
        CHECK(v == 0.5F);
    }
    float e1[4] = {0, 1, 0, 0};
    hadamard_rotate(e1, 4);
    CHECK(e1[0] == 0.5F);
    CHECK(e1[1] == -0.5F);
    CHECK(e1[2] == 0.5F);
    CHECK(e1[3] == -0.5F);
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    std::vector<float> x(128), y;
    for (auto& v : x) {
        v = nd(rng);
    }
    y = x;
    hadamard_rotate(y.data(), 128);
    hadamard_rotate(y.data(), 128);
    for (std::size_t i = 0; i < x.size(); ++i) {
        CHECK(y[i] == Approx(x[i]).margin(1e-5));
    }
}
