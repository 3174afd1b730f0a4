#pragma once
// Typed, zero-copy views of a V4 checkpoint's tensors, organised per block (spec §10.2), after
// checking every tensor's name, shape and dtype against the config. Large matrices stay in their
// checkpoint format inside the file mapping (kernels dequantize on the fly); only small vectors
// (norm weights, sinks, hc biases, compressor position biases) are converted to fp32 at load.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/cpu/linear.hpp"
#include "model/config.hpp"
#include "model/safetensors.hpp"

namespace osprey::model {

using kernels::WeightMatrix;
using Vec = std::vector<float>;

// Hyper-connection mixing parameters: fn [mix, hc*D], base [mix], scale [3] (or [1] for a head).
struct HcParams {
    WeightMatrix fn;
    Vec base;
    Vec scale;
};

struct CompressorWeights {
    std::int64_t ratio = 0;
    std::int64_t dim = 0;     // output row width d
    bool overlap = false;     // ratio 4: two halves of width d per token
    WeightMatrix wkv, wgate;  // [c*d, D]
    Vec ape;                  // [ratio, c*d]
    Vec norm;                 // [d]
};

struct IndexerWeights {
    WeightMatrix wq_b;          // [nI*dI, q_lora]
    WeightMatrix weights_proj;  // [nI, D]
    CompressorWeights compressor;
};

struct AttentionWeights {
    Vec sink;  // [H]
    WeightMatrix wq_a, wq_b, wkv, wo_a, wo_b;
    Vec q_norm, kv_norm;
    std::optional<CompressorWeights> compressor;
    std::optional<IndexerWeights> indexer;
};

struct ExpertWeights {
    WeightMatrix w1, w2, w3;  // w1, w3 [I, D]; w2 [D, I]
};

struct MoeWeights {
    WeightMatrix gate;                      // [E, D]
    Vec bias;                               // [E], score-routed layers
    const std::uint8_t* tid2eid = nullptr;  // I64 [vocab, k], hash layers (may be unaligned)
    std::vector<ExpertWeights> experts;
    ExpertWeights shared;

    std::int64_t hash_expert(std::int64_t token, std::int64_t slot, std::int64_t k) const;
};

struct BlockWeights {
    std::int64_t id = 0;
    HcParams hc_attn, hc_ffn;
    Vec attn_norm, ffn_norm;
    AttentionWeights attn;
    MoeWeights ffn;
};

struct MtpWeights {
    BlockWeights block;
    WeightMatrix e_proj, h_proj;
    Vec enorm, hnorm, norm;
    HcParams hc_head;
};

struct ModelWeights {
    ModelConfig config;
    std::shared_ptr<const Checkpoint> checkpoint;
    WeightMatrix embed;  // [vocab, D]
    WeightMatrix head;   // [vocab, D]
    Vec norm;
    HcParams hc_head;
    std::vector<BlockWeights> layers;
    std::vector<MtpWeights> mtp;

    // Bytes of weights one decode step reads for its dense parts (attention, shared experts,
    // router, head) and per selected routed expert.
    std::int64_t dense_bytes_per_token() const;
    std::int64_t expert_bytes() const;
};

// One expected tensor of a checkpoint.
struct ExpectedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<DType> dtypes;  // accepted dtypes, preferred first
};

// Every tensor a checkpoint for `config` must hold (spec §10.2), in a stable order.
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Checks names, shapes and dtypes; throws CheckpointError naming file and tensor.
void validate_checkpoint(const ModelConfig& config, const Checkpoint& checkpoint);

// Loads config + checkpoint from DIR, validates both, builds the views.
std::shared_ptr<const ModelWeights> load_model(const std::filesystem::path& dir);

}  // namespace osprey::model
