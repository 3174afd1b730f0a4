#pragma once
// Host-memory KV state of one sequence for the CPU backend (spec §9): per layer a ring of recent
// window KV vectors, the compressors' per-token projections of recent positions, the compressed
// rows and (CSA layers) the indexer's compressed keys. Rings keep `rewind_margin` extra positions
// so that truncating a few tokens back needs no recomputation.
//
// Cached rows are stored through a RowCodec: fp32 in fp32 mode; in exact mode in the value grid
// they already live on (main KV: FP8 e4m3 codes + one E8M0 scale per 64 dims for the non-rope
// part, bf16 rope dims; indexer keys: packed FP4 + one E8M0 scale per 32), which is lossless.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/backend.hpp"

namespace osprey::model::v4 {

// Buffers of 2 MiB and more are allocated on 2 MiB boundaries with transparent huge pages asked
// for (madvise): a long session's KV is faulted in with 512× fewer page faults — on some VMs the
// faults, not the copy, bound how fast a snapshot restores — and attention over it misses the TLB
// less. Smaller buffers come from operator new.
void* allocate_state_bytes(std::size_t bytes);
void free_state_bytes(void* p, std::size_t bytes) noexcept;

template <typename T>
struct StateAllocator {
    using value_type = T;
    StateAllocator() = default;
    template <typename U>
    StateAllocator(const StateAllocator<U>& /*other*/) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(allocate_state_bytes(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { free_state_bytes(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const StateAllocator<U>& /*other*/) const noexcept {
        return true;
    }
};

template <typename T>
using StateVector = std::vector<T, StateAllocator<T>>;

class RowCodec {
public:
    enum class Kind { f32, kv_fp8, index_fp4 };

    RowCodec() = default;
    RowCodec(Kind kind, std::int64_t width, std::int64_t rope_dims)
        : kind_(kind), width_(width), rope_(rope_dims) {}

    Kind kind() const { return kind_; }
    std::int64_t width() const { return width_; }
    std::int64_t row_bytes() const;
    void encode(const float* row, std::uint8_t* out) const;
    void decode(const std::uint8_t* in, float* row) const;
    // The row decoded into `scratch` (width floats); returns scratch.
    const float* view(const std::uint8_t* in, float* scratch) const;

private:
    Kind kind_ = Kind::f32;
    std::int64_t width_ = 0;
    std::int64_t rope_ = 0;
};

// The float rows of the last `capacity` positions, slot = position mod capacity.
struct PositionRing {
    std::int64_t width = 0;
    std::int64_t capacity = 0;
    StateVector<float> data;

    void init(std::int64_t w, std::int64_t cap) {
        width = w;
        capacity = cap;
        data.assign(static_cast<std::size_t>(w * cap), 0.0F);
    }
    float* at(std::int64_t pos) { return data.data() + (pos % capacity) * width; }
    const float* at(std::int64_t pos) const { return data.data() + (pos % capacity) * width; }
    std::int64_t bytes() const { return static_cast<std::int64_t>(data.size()) * 4; }
};

// Encoded rows of the last `capacity` positions (the window KV).
struct RowRing {
    RowCodec codec;
    std::int64_t capacity = 0;
    StateVector<std::uint8_t> data;

    void init(const RowCodec& c, std::int64_t cap) {
        codec = c;
        capacity = cap;
        data.assign(static_cast<std::size_t>(c.row_bytes() * cap), 0);
    }
    void put(std::int64_t pos, const float* row) {
        codec.encode(row, data.data() + (pos % capacity) * codec.row_bytes());
    }
    const float* view(std::int64_t pos, float* scratch) const {
        return codec.view(data.data() + (pos % capacity) * codec.row_bytes(), scratch);
    }
    std::int64_t bytes() const { return static_cast<std::int64_t>(data.size()); }
};

// Encoded rows appended one by one (compressed KV, indexer keys); grows with use.
struct RowStore {
    RowCodec codec;
    std::int64_t n_rows = 0;
    StateVector<std::uint8_t> data;

    void append(const float* row) {
        data.resize(static_cast<std::size_t>((n_rows + 1) * codec.row_bytes()));
        codec.encode(row, data.data() + n_rows * codec.row_bytes());
        ++n_rows;
    }
    const float* view(std::int64_t j, float* scratch) const {
        return codec.view(data.data() + j * codec.row_bytes(), scratch);
    }
    void truncate(std::int64_t n) {
        n_rows = n;
        data.resize(static_cast<std::size_t>(n * codec.row_bytes()));
    }
    std::int64_t bytes() const { return n_rows * codec.row_bytes(); }
};

struct CompressorState {
    PositionRing u, g;  // fp32 projections, width c·d; capacity 2·ratio + margin
    RowStore rows;      // compressed rows [n_rows, d]
    std::int64_t dim = 0;

    std::int64_t n_rows() const { return rows.n_rows; }
    std::int64_t bytes() const { return u.bytes() + g.bytes() + rows.bytes(); }
};

struct LayerState {
    RowRing kv;  // window KV, width head_dim, capacity window + margin
    std::optional<CompressorState> compressor;
    std::optional<CompressorState> indexer;

    std::int64_t bytes() const {
        return kv.bytes() + (compressor ? compressor->bytes() : 0) +
               (indexer ? indexer->bytes() : 0);
    }
};

// Saved state (Backend::save_state): one section per part of a layer, named `prefix` + ".kv",
// ".compressor.u", ".compressor.g", ".compressor.rows", ".indexer.u", ".indexer.g",
// ".indexer.rows" (those the layer has). The bytes are views into `state`.
void save_layer_state(const LayerState& state, const std::string& prefix, const StateSink& sink);
// Fills `state`, freshly made by attention_init_state for this config and options, from those
// sections for a sequence of `length` positions (compressed rows: length / ratio). Throws
// StateFormatError naming the section when one is missing or its size does not fit.
void restore_layer_state(LayerState& state, const std::string& prefix, std::int64_t length,
                         std::int64_t compress_ratio, std::int64_t index_ratio,
                         const StateSource& source);

}  // namespace osprey::model::v4
