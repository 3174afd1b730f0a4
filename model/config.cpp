#include "model/config.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace osprey::model {
namespace {

using nlohmann::json;

class Reader {
public:
    Reader(const json& j, std::string source, std::string prefix = "")
        : j_(j), source_(std::move(source)), prefix_(std::move(prefix)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw ConfigError(source_ + ": key '" + prefix_ + key + "' " + what);
    }

    const json* find(const std::string& key) const {
        auto it = j_.find(key);
        return it == j_.end() || it->is_null() ? nullptr : &*it;
    }

    const json& need(const std::string& key) const {
        const json* v = find(key);
        if (v == nullptr) {
            fail(key, "is missing");
        }
        return *v;
    }

    std::int64_t integer(const std::string& key) const { return as_int(key, need(key)); }
    std::int64_t integer(const std::string& key, std::int64_t fallback) const {
        const json* v = find(key);
        return v == nullptr ? fallback : as_int(key, *v);
    }
    double number(const std::string& key) const { return as_number(key, need(key)); }
    double number(const std::string& key, double fallback) const {
        const json* v = find(key);
        return v == nullptr ? fallback : as_number(key, *v);
    }
    std::string text(const std::string& key) const { return as_text(key, need(key)); }
    std::string text(const std::string& key, const std::string& fallback) const {
        const json* v = find(key);
        return v == nullptr ? fallback : as_text(key, *v);
    }
    bool flag(const std::string& key, bool fallback) const {
        const json* v = find(key);
        if (v == nullptr) {
            return fallback;
        }
        if (!v->is_boolean()) {
            fail(key, "must be true or false, got " + v->dump());
        }
        return v->get<bool>();
    }

    std::int64_t as_int(const std::string& key, const json& v) const {
        if (v.is_number_integer()) {
            return v.get<std::int64_t>();
        }
        if (v.is_number_float()) {
            const double d = v.get<double>();
            if (d == static_cast<double>(static_cast<std::int64_t>(d))) {
                return static_cast<std::int64_t>(d);
            }
        }
        fail(key, "must be an integer, got " + v.dump());
    }
    double as_number(const std::string& key, const json& v) const {
        if (!v.is_number()) {
            fail(key, "must be a number, got " + v.dump());
        }
        return v.get<double>();
    }
    std::string as_text(const std::string& key, const json& v) const {
        if (!v.is_string()) {
            fail(key, "must be a string, got " + v.dump());
        }
        return v.get<std::string>();
    }

private:
    const json& j_;
    std::string source_;
    std::string prefix_;
};

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& what) {
    throw ConfigError(source + ": key '" + key + "' " + what);
}

}  // namespace

std::string_view to_string(AttentionKind kind) {
    switch (kind) {
        case AttentionKind::sliding:
            return "swa";
        case AttentionKind::csa:
            return "csa";
        case AttentionKind::hca:
            return "hca";
    }
    return "?";
}

AttentionKind ModelConfig::kind(std::int64_t layer) const {
    const std::int64_t r = ratio(layer);
    if (r == 0) {
        return AttentionKind::sliding;
    }
    return r == 4 ? AttentionKind::csa : AttentionKind::hca;
}

ModelConfig parse_config(std::string_view json_text, const std::string& source) {
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::parse_error& e) {
        throw ConfigError(source + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) {
        throw ConfigError(source + ": expected a JSON object at the top level");
    }
    const Reader r(j, source);
    ModelConfig c;
    c.model_type = r.text("model_type");
    c.vocab_size = r.integer("vocab_size");
    c.hidden_size = r.integer("hidden_size");
    c.num_hidden_layers = r.integer("num_hidden_layers");
    c.num_nextn_predict_layers = r.integer("num_nextn_predict_layers", 1);
    c.num_attention_heads = r.integer("num_attention_heads");
    c.num_key_value_heads = r.integer("num_key_value_heads", 1);
    c.head_dim = r.integer("head_dim");
    c.qk_rope_head_dim = r.integer("qk_rope_head_dim");
    c.q_lora_rank = r.integer("q_lora_rank");
    c.o_groups = r.integer("o_groups");
    c.o_lora_rank = r.integer("o_lora_rank");
    c.sliding_window = r.integer("sliding_window");
    const json& ratios = r.need("compress_ratios");
    if (!ratios.is_array()) {
        r.fail("compress_ratios", "must be an array of integers");
    }
    for (std::size_t i = 0; i < ratios.size(); ++i) {
        c.compress_ratios.push_back(
            r.as_int("compress_ratios[" + std::to_string(i) + "]", ratios[i]));
    }
    c.rope_theta = r.number("rope_theta");
    c.compress_rope_theta = r.number("compress_rope_theta");
    if (const json* rs = r.find("rope_scaling")) {
        if (!rs->is_object()) {
            r.fail("rope_scaling", "must be an object");
        }
        const Reader s(*rs, source, "rope_scaling.");
        c.rope_scaling.type = s.text("type", s.text("rope_type", "yarn"));
        c.rope_scaling.factor = s.number("factor");
        c.rope_scaling.original_max_position_embeddings =
            s.integer("original_max_position_embeddings");
        c.rope_scaling.beta_fast = s.number("beta_fast", 32.0);
        c.rope_scaling.beta_slow = s.number("beta_slow", 1.0);
    } else {
        r.fail("rope_scaling", "is missing (V4 compressed layers use YaRN)");
    }
    c.index_n_heads = r.integer("index_n_heads");
    c.index_head_dim = r.integer("index_head_dim");
    c.index_topk = r.integer("index_topk");
    c.n_routed_experts = r.integer("n_routed_experts");
    c.num_experts_per_tok = r.integer("num_experts_per_tok");
    c.n_shared_experts = r.integer("n_shared_experts", 1);
    c.moe_intermediate_size = r.integer("moe_intermediate_size");
    c.num_hash_layers = r.integer("num_hash_layers", 0);
    c.scoring_func = r.text("scoring_func", "sqrtsoftplus");
    c.routed_scaling_factor = r.number("routed_scaling_factor");
    c.norm_topk_prob = r.flag("norm_topk_prob", true);
    c.swiglu_limit = r.number("swiglu_limit", 0.0);
    c.hc_mult = r.integer("hc_mult");
    c.hc_sinkhorn_iters = r.integer("hc_sinkhorn_iters");
    c.hc_eps = r.number("hc_eps", 1e-6);
    c.rms_norm_eps = r.number("rms_norm_eps", 1e-6);
    c.max_position_embeddings = r.integer("max_position_embeddings", 1048576);
    const json& q = r.need("quantization_config");
    if (!q.is_object()) {
        r.fail("quantization_config", "must be an object");
    }
    {
        const Reader qr(q, source, "quantization_config.");
        c.quantization.quant_method = qr.text("quant_method");
        c.quantization.fmt = qr.text("fmt", "e4m3");
        c.quantization.scale_fmt = qr.text("scale_fmt", "ue8m0");
        c.quantization.activation_scheme = qr.text("activation_scheme", "dynamic");
        const json& block = qr.need("weight_block_size");
        if (!block.is_array() || block.size() != 2) {
            qr.fail("weight_block_size", "must be a pair [rows, cols], got " + block.dump());
        }
        c.quantization.block_rows = qr.as_int("weight_block_size[0]", block[0]);
        c.quantization.block_cols = qr.as_int("weight_block_size[1]", block[1]);
    }
    c.expert_dtype = r.text("expert_dtype", "fp4");
    c.bos_token_id = r.integer("bos_token_id", 0);
    c.eos_token_id = r.integer("eos_token_id", 1);
    c.tie_word_embeddings = r.flag("tie_word_embeddings", false);
    validate_config(c, source);
    return c;
}

void validate_config(const ModelConfig& c, const std::string& source) {
    if (c.model_type != "deepseek_v4") {
        bad(source, "model_type", "is '" + c.model_type + "': only 'deepseek_v4' is supported");
    }
    auto positive = [&](const char* key, std::int64_t v) {
        if (v <= 0) {
            bad(source, key, "must be a positive integer, got " + std::to_string(v));
        }
    };
    positive("vocab_size", c.vocab_size);
    positive("hidden_size", c.hidden_size);
    positive("num_hidden_layers", c.num_hidden_layers);
    positive("num_attention_heads", c.num_attention_heads);
    positive("head_dim", c.head_dim);
    positive("qk_rope_head_dim", c.qk_rope_head_dim);
    positive("q_lora_rank", c.q_lora_rank);
    positive("o_groups", c.o_groups);
    positive("o_lora_rank", c.o_lora_rank);
    positive("sliding_window", c.sliding_window);
    positive("index_n_heads", c.index_n_heads);
    positive("index_head_dim", c.index_head_dim);
    positive("index_topk", c.index_topk);
    positive("n_routed_experts", c.n_routed_experts);
    positive("num_experts_per_tok", c.num_experts_per_tok);
    positive("moe_intermediate_size", c.moe_intermediate_size);
    positive("hc_mult", c.hc_mult);
    positive("hc_sinkhorn_iters", c.hc_sinkhorn_iters);
    positive("max_position_embeddings", c.max_position_embeddings);
    if (c.num_nextn_predict_layers < 0 || c.num_nextn_predict_layers > 1) {
        bad(source, "num_nextn_predict_layers",
            "must be 0 or 1, got " + std::to_string(c.num_nextn_predict_layers));
    }
    if (c.num_key_value_heads != 1) {
        bad(source, "num_key_value_heads",
            "must be 1 (V4 attention shares one KV vector), got " +
                std::to_string(c.num_key_value_heads));
    }
    if (c.qk_rope_head_dim % 2 != 0 || c.qk_rope_head_dim >= c.head_dim) {
        bad(source, "qk_rope_head_dim",
            "must be even and smaller than head_dim (" + std::to_string(c.head_dim) + "), got " +
                std::to_string(c.qk_rope_head_dim));
    }
    if (c.num_attention_heads % c.o_groups != 0) {
        bad(source, "o_groups",
            "must divide num_attention_heads (" + std::to_string(c.num_attention_heads) +
                "), got " + std::to_string(c.o_groups));
    }
    const auto expected =
        static_cast<std::size_t>(c.num_hidden_layers + c.num_nextn_predict_layers);
    if (c.compress_ratios.size() != expected) {
        bad(source, "compress_ratios",
            "has " + std::to_string(c.compress_ratios.size()) +
                " entries; expected num_hidden_layers + num_nextn_predict_layers = " +
                std::to_string(expected));
    }
    for (std::size_t i = 0; i < c.compress_ratios.size(); ++i) {
        const std::int64_t v = c.compress_ratios[i];
        if (v < 0 || (v > 0 && v < 2)) {
            bad(source, "compress_ratios[" + std::to_string(i) + "]",
                "must be 0 or at least 2, got " + std::to_string(v));
        }
    }
    for (std::int64_t i = c.num_hidden_layers; i < static_cast<std::int64_t>(expected); ++i) {
        if (c.compress_ratios[static_cast<std::size_t>(i)] != 0) {
            bad(source, "compress_ratios[" + std::to_string(i) + "]",
                "belongs to the MTP block, which is a sliding-window block: must be 0");
        }
    }
    if (c.index_head_dim < c.qk_rope_head_dim || (c.index_head_dim & (c.index_head_dim - 1)) != 0) {
        bad(source, "index_head_dim",
            "must be a power of two (Hadamard rotation) and at least qk_rope_head_dim, got " +
                std::to_string(c.index_head_dim));
    }
    if (c.num_experts_per_tok > c.n_routed_experts) {
        bad(source, "num_experts_per_tok",
            "exceeds n_routed_experts (" + std::to_string(c.n_routed_experts) + ")");
    }
    if (c.n_shared_experts != 1) {
        bad(source, "n_shared_experts", "must be 1, got " + std::to_string(c.n_shared_experts));
    }
    if (c.num_hash_layers < 0 || c.num_hash_layers > c.num_hidden_layers) {
        bad(source, "num_hash_layers",
            "must be between 0 and num_hidden_layers, got " + std::to_string(c.num_hash_layers));
    }
    if (c.scoring_func != "sqrtsoftplus") {
        bad(source, "scoring_func",
            "is '" + c.scoring_func + "': only 'sqrtsoftplus' is supported");
    }
    if (!c.norm_topk_prob) {
        bad(source, "norm_topk_prob", "must be true for sqrtsoftplus routing");
    }
    if (c.swiglu_limit < 0.0) {
        bad(source, "swiglu_limit", "must not be negative");
    }
    if (c.rope_theta <= 0.0) {
        bad(source, "rope_theta", "must be positive");
    }
    if (c.compress_rope_theta <= 0.0) {
        bad(source, "compress_rope_theta", "must be positive");
    }
    if (c.rope_scaling.type != "yarn") {
        bad(source, "rope_scaling.type", "is '" + c.rope_scaling.type + "': expected 'yarn'");
    }
    if (c.rope_scaling.factor < 1.0) {
        bad(source, "rope_scaling.factor", "must be at least 1");
    }
    if (c.rope_scaling.original_max_position_embeddings <= 0) {
        bad(source, "rope_scaling.original_max_position_embeddings", "must be positive");
    }
    if (c.hc_eps < 0.0 || c.rms_norm_eps <= 0.0) {
        bad(source, c.hc_eps < 0.0 ? "hc_eps" : "rms_norm_eps", "must be positive");
    }
    if (c.quantization.quant_method != "fp8") {
        bad(source, "quantization_config.quant_method",
            "is '" + c.quantization.quant_method + "': expected 'fp8'");
    }
    if (c.quantization.fmt != "e4m3") {
        bad(source, "quantization_config.fmt", "is '" + c.quantization.fmt + "': expected 'e4m3'");
    }
    if (c.quantization.scale_fmt != "ue8m0") {
        bad(source, "quantization_config.scale_fmt",
            "is '" + c.quantization.scale_fmt + "': expected 'ue8m0'");
    }
    if (c.quantization.block_rows != 128 || c.quantization.block_cols != 128) {
        bad(source, "quantization_config.weight_block_size", "must be [128, 128]");
    }
    if (c.expert_dtype != "fp4" && c.expert_dtype != "fp8") {
        bad(source, "expert_dtype", "is '" + c.expert_dtype + "': expected 'fp4' or 'fp8'");
    }
    if (c.expert_dtype == "fp4" && (c.hidden_size % 32 != 0 || c.moe_intermediate_size % 32 != 0)) {
        bad(source, c.hidden_size % 32 != 0 ? "hidden_size" : "moe_intermediate_size",
            "must be a multiple of 32 for FP4 experts (1x32 scale blocks)");
    }
    if (c.tie_word_embeddings) {
        bad(source, "tie_word_embeddings", "must be false (V4 has a separate head)");
    }
}

ModelConfig load_config(const std::filesystem::path& model_dir) {
    const auto path = model_dir / "config.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ConfigError(path.string() + ": cannot read the model config");
    }
    std::stringstream buf;
    buf << in.rdbuf();
    return parse_config(buf.str(), path.string());
}

}  // namespace osprey::model
