#include "model/v4/state.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/formats.hpp"
#include "model/errors.hpp"

namespace osprey::model::v4 {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
}  // namespace

void* allocate_state_bytes(std::size_t bytes) {
    if (bytes < kHugePage) {
        return ::operator new(bytes);
    }
    const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, size);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
#ifdef MADV_HUGEPAGE
    ::madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP it stays small pages
#endif
    return p;
}

void free_state_bytes(void* p, std::size_t bytes) noexcept {
    if (bytes < kHugePage) {
        ::operator delete(p);
    } else {
        std::free(p);
    }
}

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

namespace {

template <typename T>
std::span<const std::byte> bytes_of(const StateVector<T>& v) {
    return std::as_bytes(std::span<const T>(v.data(), v.size()));
}

std::span<const std::byte> section(const StateSource& source, const std::string& name,
                                   std::int64_t expected, const std::string& what) {
    const auto bytes = source(name);
    if (!bytes) {
        throw StateFormatError("saved state has no section '" + name + "' (" + what + ")");
    }
    if (static_cast<std::int64_t>(bytes->size()) != expected) {
        throw StateFormatError("saved state section '" + name + "' holds " +
                               std::to_string(bytes->size()) + " bytes; this model and session " +
                               "options expect " + std::to_string(expected) + " (" + what + ")");
    }
    return *bytes;
}

void restore_ring(PositionRing& ring, const StateSource& source, const std::string& name) {
    const auto bytes = section(
        source, name, ring.bytes(),
        std::to_string(ring.capacity) + " positions of " + std::to_string(ring.width) + " floats");
    std::memcpy(ring.data.data(), bytes.data(), bytes.size());
}

void restore_rows(RowStore& rows, const StateSource& source, const std::string& name,
                  std::int64_t n) {
    const std::int64_t rb = rows.codec.row_bytes();
    const auto bytes = section(source, name, n * rb,
                               std::to_string(n) + " rows of " + std::to_string(rb) + " bytes");
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    rows.data.assign(p, p + bytes.size());
    rows.n_rows = n;
}

void save_compressor(const CompressorState& c, const std::string& prefix, const StateSink& sink) {
    sink(prefix + ".u", bytes_of(c.u.data));
    sink(prefix + ".g", bytes_of(c.g.data));
    sink(prefix + ".rows", bytes_of(c.rows.data));
}

void restore_compressor(CompressorState& c, const std::string& prefix, std::int64_t n_rows,
                        const StateSource& source) {
    restore_ring(c.u, source, prefix + ".u");
    restore_ring(c.g, source, prefix + ".g");
    restore_rows(c.rows, source, prefix + ".rows", n_rows);
}

}  // namespace

void save_layer_state(const LayerState& state, const std::string& prefix, const StateSink& sink) {
    sink(prefix + ".kv", bytes_of(state.kv.data));
    if (state.compressor) {
        save_compressor(*state.compressor, prefix + ".compressor", sink);
    }
    if (state.indexer) {
        save_compressor(*state.indexer, prefix + ".indexer", sink);
    }
}

void restore_layer_state(LayerState& state, const std::string& prefix, std::int64_t length,
                         std::int64_t compress_ratio, std::int64_t index_ratio,
                         const StateSource& source) {
    const std::string kv = prefix + ".kv";
    const std::int64_t rb = state.kv.codec.row_bytes();
    const auto bytes = section(
        source, kv, state.kv.bytes(),
        std::to_string(state.kv.capacity) + " window rows of " + std::to_string(rb) + " bytes");
    std::memcpy(state.kv.data.data(), bytes.data(), bytes.size());
    if (state.compressor) {
        restore_compressor(*state.compressor, prefix + ".compressor", length / compress_ratio,
                           source);
    }
    if (state.indexer) {
        restore_compressor(*state.indexer, prefix + ".indexer", length / index_ratio, source);
    }
}

}  // namespace osprey::model::v4
