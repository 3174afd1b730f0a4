#pragma once
// The model configuration: the Hugging Face `config.json` of a DeepSeek-V4 checkpoint (spec §1),
// parsed and validated. Inconsistent or missing values throw ConfigError naming the key.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "model/errors.hpp"

namespace osprey::model {

enum class AttentionKind { sliding, csa, hca };  // ratio 0, ratio 4, any other ratio > 0

std::string_view to_string(AttentionKind kind);

struct RopeScaling {
    std::string type = "yarn";
    double factor = 1.0;
    std::int64_t original_max_position_embeddings = 0;
    double beta_fast = 32.0;
    double beta_slow = 1.0;
};

struct QuantizationConfig {
    std::string quant_method;  // "fp8"
    std::string fmt;           // "e4m3"
    std::string scale_fmt;     // "ue8m0"
    std::string activation_scheme;
    std::int64_t block_rows = 128;
    std::int64_t block_cols = 128;
};

struct ModelConfig {
    std::string model_type;
    std::int64_t vocab_size = 0;
    std::int64_t hidden_size = 0;
    std::int64_t num_hidden_layers = 0;
    std::int64_t num_nextn_predict_layers = 0;
    std::int64_t num_attention_heads = 0;
    std::int64_t num_key_value_heads = 1;
    std::int64_t head_dim = 0;
    std::int64_t qk_rope_head_dim = 0;
    std::int64_t q_lora_rank = 0;
    std::int64_t o_groups = 0;
    std::int64_t o_lora_rank = 0;
    std::int64_t sliding_window = 0;
    std::vector<std::int64_t> compress_ratios;  // num_hidden_layers + num_nextn_predict_layers
    double rope_theta = 10000.0;
    double compress_rope_theta = 160000.0;
    RopeScaling rope_scaling;
    std::int64_t index_n_heads = 0;
    std::int64_t index_head_dim = 0;
    std::int64_t index_topk = 0;
    std::int64_t n_routed_experts = 0;
    std::int64_t num_experts_per_tok = 0;
    std::int64_t n_shared_experts = 1;
    std::int64_t moe_intermediate_size = 0;
    std::int64_t num_hash_layers = 0;
    std::string scoring_func = "sqrtsoftplus";
    double routed_scaling_factor = 1.0;
    bool norm_topk_prob = true;
    double swiglu_limit = 0.0;
    std::int64_t hc_mult = 4;
    std::int64_t hc_sinkhorn_iters = 20;
    double hc_eps = 1e-6;
    double rms_norm_eps = 1e-6;
    std::int64_t max_position_embeddings = 0;
    QuantizationConfig quantization;
    std::string expert_dtype = "fp4";  // "fp4" or "fp8"
    std::int64_t bos_token_id = 0;
    std::int64_t eos_token_id = 1;
    bool tie_word_embeddings = false;

    // Layer id 0..num_hidden_layers-1 are decoder blocks; num_hidden_layers.. are MTP blocks.
    std::int64_t ratio(std::int64_t layer) const {
        return compress_ratios.at(static_cast<std::size_t>(layer));
    }
    AttentionKind kind(std::int64_t layer) const;
    bool hash_routed(std::int64_t layer) const { return layer < num_hash_layers; }
    std::int64_t nope_dim() const { return head_dim - qk_rope_head_dim; }
    std::int64_t hc_mix() const { return (2 + hc_mult) * hc_mult; }
};

// Parses JSON text; `source` names the file in messages.
ModelConfig parse_config(std::string_view json_text, const std::string& source = "config.json");
// Reads DIR/config.json.
ModelConfig load_config(const std::filesystem::path& model_dir);
// Throws ConfigError for inconsistent values (called by parse_config).
void validate_config(const ModelConfig& config, const std::string& source);

}  // namespace osprey::model
