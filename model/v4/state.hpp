#pragma once
// Host-memory KV state of one sequence for the CPU backend (spec §9): per layer a ring of recent
// window KV vectors, the compressors' per-token projections of recent positions, the compressed
// rows and (CSA layers) the indexer's compressed keys. Rings keep `rewind_margin` extra positions
// so that truncating a few tokens back needs no recomputation.

#include <cstdint>
#include <optional>
#include <vector>

namespace osprey::model::v4 {

// The rows of the last `capacity` positions, slot = position mod capacity.
struct PositionRing {
    std::int64_t width = 0;
    std::int64_t capacity = 0;
    std::vector<float> data;

    void init(std::int64_t w, std::int64_t cap) {
        width = w;
        capacity = cap;
        data.assign(static_cast<std::size_t>(w * cap), 0.0F);
    }
    float* at(std::int64_t pos) { return data.data() + (pos % capacity) * width; }
    const float* at(std::int64_t pos) const { return data.data() + (pos % capacity) * width; }
    std::int64_t bytes() const { return static_cast<std::int64_t>(data.size()) * 4; }
};

struct CompressorState {
    PositionRing u, g;        // width c·d; capacity 2·ratio + margin
    std::vector<float> rows;  // [n_rows, d], grows with use
    std::int64_t dim = 0;
    std::int64_t n_rows = 0;

    const float* row(std::int64_t j) const { return rows.data() + j * dim; }
    std::int64_t bytes() const {
        return u.bytes() + g.bytes() + n_rows * dim * static_cast<std::int64_t>(sizeof(float));
    }
    void truncate_rows(std::int64_t n) {
        n_rows = n;
        rows.resize(static_cast<std::size_t>(n * dim));
    }
};

struct LayerState {
    PositionRing kv;  // window KV, width head_dim, capacity window + margin
    std::optional<CompressorState> compressor;
    std::optional<CompressorState> indexer;

    std::int64_t bytes() const {
        return kv.bytes() + (compressor ? compressor->bytes() : 0) +
               (indexer ? indexer->bytes() : 0);
    }
};

}  // namespace osprey::model::v4
