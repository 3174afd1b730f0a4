// Compact KV rows: values on the FP8/FP4 grid survive encode → decode bit for bit.
#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "kernels/cpu/formats.hpp"
#include "model/v4/state.hpp"

using namespace osprey::model::v4;
using namespace osprey::kernels;

TEST_CASE("main KV rows (FP8 nope dims + bf16 rope dims) round-trip exactly") {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0F, 3.0F);
    const RowCodec codec(RowCodec::Kind::kv_fp8, 512, 64);
    CHECK(codec.row_bytes() == 583);  // spec §9.4: 448 + 7 + 128
    for (int rep = 0; rep < 50; ++rep) {
        std::vector<float> row(512);
        for (auto& v : row) {
            v = round_bf16(nd(rng) * (rep % 5 == 0 ? 1e-3F : 1.0F));
        }
        fp8_quant_dequant(row.data(), 448, 64);  // what exact mode caches
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(codec.row_bytes()));
        codec.encode(row.data(), bytes.data());
        std::vector<float> back(512);
        codec.decode(bytes.data(), back.data());
        REQUIRE(back == row);
    }
}

TEST_CASE("indexer key rows (packed FP4) round-trip exactly") {
    std::mt19937 rng(2);
    std::normal_distribution<float> nd;
    const RowCodec codec(RowCodec::Kind::index_fp4, 128, 0);
    CHECK(codec.row_bytes() == 68);  // spec §9.4: 64 + 4
    for (int rep = 0; rep < 50; ++rep) {
        std::vector<float> row(128);
        for (auto& v : row) {
            v = nd(rng);
        }
        fp4_quant_dequant(row.data(), 128, 32);
        std::vector<std::uint8_t> bytes(68);
        codec.encode(row.data(), bytes.data());
        std::vector<float> back(128);
        codec.decode(bytes.data(), back.data());
        REQUIRE(back == row);
    }
}

TEST_CASE("row stores grow with use and truncate") {
    RowStore s;
    s.codec = RowCodec(RowCodec::Kind::f32, 4, 0);
    const float a[4] = {1, 2, 3, 4};
    const float b[4] = {5, 6, 7, 8};
    s.append(a);
    s.append(b);
    CHECK(s.bytes() == 32);
    float scratch[4];
    CHECK(s.view(1, scratch)[2] == 7.0F);
    s.truncate(1);
    CHECK(s.n_rows == 1);
    CHECK(s.bytes() == 16);
}
