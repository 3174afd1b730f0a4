#pragma once
// The KV compressor (spec §5.3, §9.2): per token u = x·wkvᵀ and g = x·wgateᵀ + ape[p mod r], pooled
// per feature with a softmax over each block of r tokens (ratio 4: overlapping, the previous
// block's A halves plus this block's B halves), then normalised, rotated and snapped onto the cache
// grid.

#include <cstdint>
#include <vector>

#include "model/v4/ops.hpp"
#include "model/v4/state.hpp"
#include "model/weights.hpp"

namespace osprey::model::v4 {

enum class CompressorRole { main_kv, indexer_keys };

void compressor_init(CompressorState& state, const CompressorWeights& w, std::int64_t margin);

// u, g [tokens, c·d] for tokens at positions p0 .. p0+tokens-1 (g includes the ape bias).
void compressor_project(const Ctx& ctx, const CompressorWeights& w, const float* x,
                        std::int64_t tokens, std::int64_t p0, std::vector<float>& u,
                        std::vector<float>& g);

// Records the token at position p; when it completes block j, appends compressed row j.
void compressor_push(const Ctx& ctx, const CompressorWeights& w, CompressorState& state,
                     std::int64_t p, const float* u, const float* g,
                     const std::vector<float>& freqs, CompressorRole role);

}  // namespace osprey::model::v4
