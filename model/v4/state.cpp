#include "model/v4/state.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/formats.hpp"

namespace osprey::model::v4 {

std::int64_t RowCodec::row_bytes() const {
    switch (kind_) {
        case Kind::f32:
            return width_ * 4;
        case Kind::kv_fp8: {
            const std::int64_t nope = width_ - rope_;
            return nope + (nope + 63) / 64 + 2 * rope_;
        }
        case Kind::index_fp4:
            return (width_ + 1) / 2 + (width_ + 31) / 32;
    }
    return 0;
}

void RowCodec::encode(const float* row, std::uint8_t* out) const {
    switch (kind_) {
        case Kind::f32:
            std::memcpy(out, row, static_cast<std::size_t>(width_) * 4);
            return;
        case Kind::kv_fp8: {
            const std::int64_t nope = width_ - rope_;
            std::uint8_t* scales = out + nope;
            for (std::int64_t b = 0; b < nope; b += 64) {
                const int n = static_cast<int>(std::min<std::int64_t>(64, nope - b));
                scales[b / 64] = kernels::fp8_quantize_block(row + b, n, out + b);
            }
            std::uint8_t* rope = scales + (nope + 63) / 64;
            for (std::int64_t i = 0; i < rope_; ++i) {
                const std::uint16_t h = kernels::f32_to_bf16(row[nope + i]);
                std::memcpy(rope + 2 * i, &h, 2);
            }
            return;
        }
        case Kind::index_fp4: {
            std::uint8_t* scales = out + (width_ + 1) / 2;
            for (std::int64_t b = 0; b < width_; b += 32) {
                const int n = static_cast<int>(std::min<std::int64_t>(32, width_ - b));
                scales[b / 32] = kernels::fp4_quantize_block(row + b, n, out + b / 2);
            }
            return;
        }
    }
}

void RowCodec::decode(const std::uint8_t* in, float* row) const {
    switch (kind_) {
        case Kind::f32:
            std::memcpy(row, in, static_cast<std::size_t>(width_) * 4);
            return;
        case Kind::kv_fp8: {
            const std::int64_t nope = width_ - rope_;
            const std::uint8_t* scales = in + nope;
            const float* table = kernels::fp8_e4m3_table();
            for (std::int64_t b = 0; b < nope; b += 64) {
                const float s = kernels::e8m0_to_f32(scales[b / 64]);
                const std::int64_t e = std::min<std::int64_t>(nope, b + 64);
                for (std::int64_t i = b; i < e; ++i) {
                    row[i] = table[in[i]] * s;
                }
            }
            const std::uint8_t* rope = scales + (nope + 63) / 64;
            for (std::int64_t i = 0; i < rope_; ++i) {
                std::uint16_t h;
                std::memcpy(&h, rope + 2 * i, 2);
                row[nope + i] = kernels::bf16_to_f32(h);
            }
            return;
        }
        case Kind::index_fp4: {
            const std::uint8_t* scales = in + (width_ + 1) / 2;
            const float* table = kernels::fp4_e2m1_table();
            for (std::int64_t b = 0; b < width_; b += 32) {
                const float s = kernels::e8m0_to_f32(scales[b / 32]);
                const std::int64_t e = std::min<std::int64_t>(width_, b + 32);
                for (std::int64_t i = b; i < e; ++i) {
                    const std::uint8_t byte = in[i / 2];
                    row[i] = table[(i % 2 == 0) ? (byte & 0xF) : (byte >> 4)] * s;
                }
            }
            return;
        }
    }
}

const float* RowCodec::view(const std::uint8_t* in, float* scratch) const {
    decode(in, scratch);
    return scratch;
}

}  // namespace osprey::model::v4
