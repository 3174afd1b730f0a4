// The fast linear kernels (SIMD dequantization, thread pool) against the plain reference.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/formats.hpp"
#include "kernels/cpu/linear.hpp"
#include "kernels/cpu/thread_pool.hpp"

using namespace osprey::kernels;

namespace {

struct RandomMatrix {
    std::vector<std::uint8_t> bytes;
    std::vector<std::uint8_t> scales;
    WeightMatrix w;

    RandomMatrix(WeightFormat f, std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
        std::uniform_int_distribution<int> byte(0, 255);
        std::uniform_int_distribution<int> scale(118, 130);
        std::normal_distribution<float> nd;
        w.format = f;
        w.rows = rows;
        w.cols = cols;
        switch (f) {
            case WeightFormat::f32: {
                bytes.resize(static_cast<std::size_t>(rows * cols * 4));
                auto* p = reinterpret_cast<float*>(bytes.data());
                for (std::int64_t i = 0; i < rows * cols; ++i) {
                    p[i] = nd(rng);
                }
                break;
            }
            case WeightFormat::bf16: {
                bytes.resize(static_cast<std::size_t>(rows * cols * 2));
                auto* p = reinterpret_cast<std::uint16_t*>(bytes.data());
                for (std::int64_t i = 0; i < rows * cols; ++i) {
                    p[i] = f32_to_bf16(nd(rng));
                }
                break;
            }
            case WeightFormat::fp8_block128:
                bytes.resize(static_cast<std::size_t>(rows * cols));
                for (auto& b : bytes) {
                    do {
                        b = static_cast<std::uint8_t>(byte(rng));
                    } while ((b & 0x7F) == 0x7F);
                }
                w.scale_cols = (cols + 127) / 128;
                scales.resize(static_cast<std::size_t>((rows + 127) / 128 * w.scale_cols));
                break;
            case WeightFormat::fp4_block32:
                bytes.resize(static_cast<std::size_t>(rows * cols / 2));
                for (auto& b : bytes) {
                    b = static_cast<std::uint8_t>(byte(rng));
                }
                w.scale_cols = cols / 32;
                scales.resize(static_cast<std::size_t>(rows * w.scale_cols));
                break;
        }
        for (auto& s : scales) {
            s = static_cast<std::uint8_t>(scale(rng));
        }
        w.data = bytes.data();
        w.scales = scales.empty() ? nullptr : scales.data();
    }
};

}  // namespace

TEST_CASE("dequant_row equals the reference definition for every format") {
    std::mt19937 rng(11);
    for (auto f : {WeightFormat::f32, WeightFormat::bf16, WeightFormat::fp8_block128,
                   WeightFormat::fp4_block32}) {
        RandomMatrix m(f, 200, 320, rng);
        std::vector<float> row(320);
        for (std::int64_t r : {0, 1, 127, 128, 199}) {
            dequant_row(m.w, r, row.data());
            for (std::int64_t c = 0; c < 320; ++c) {
                REQUIRE(row[static_cast<std::size_t>(c)] == weight_at(m.w, r, c));
            }
        }
    }
}

TEST_CASE("fast linear matches the reference on random inputs") {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    ThreadPool pool(2);
    INFO("kernel variant " << linear_kernel_variant());
    for (auto f : {WeightFormat::f32, WeightFormat::bf16, WeightFormat::fp8_block128,
                   WeightFormat::fp4_block32}) {
        RandomMatrix m(f, 260, 384, rng);
        for (std::int64_t tokens : {1, 5}) {
            std::vector<float> x(static_cast<std::size_t>(tokens * 384));
            for (auto& v : x) {
                v = nd(rng);
            }
            std::vector<float> ref(static_cast<std::size_t>(tokens * 260));
            std::vector<float> fast(ref.size());
            linear_ref(m.w, x.data(), tokens, ref.data());
            linear(m.w, x.data(), tokens, fast.data(), &pool);
            double num = 0.0;
            double den = 0.0;
            for (std::size_t i = 0; i < ref.size(); ++i) {
                num += (ref[i] - fast[i]) * static_cast<double>(ref[i] - fast[i]);
                den += static_cast<double>(ref[i]) * ref[i];
            }
            CHECK(std::sqrt(num / den) < 1e-6);
        }
    }
}

TEST_CASE("the thread pool covers every index exactly once and forwards exceptions") {
    ThreadPool pool(3);
    std::vector<int> hits(1001, 0);
    pool.parallel_for(1001, 7, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) {
            ++hits[static_cast<std::size_t>(i)];
        }
    });
    for (int h : hits) {
        REQUIRE(h == 1);
    }
    CHECK_THROWS_WITH(pool.parallel_for(100, 1,
                                        [](std::int64_t b, std::int64_t) {
                                            if (b > 50) {
                                                throw std::runtime_error("boom");
                                            }
                                        }),
                      "boom");
    CHECK(pool.size() == 3);
}
