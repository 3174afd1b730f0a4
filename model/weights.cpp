#include "model/weights.hpp"

#include <cstring>
#include <set>

#include "kernels/cpu/formats.hpp"

namespace osprey::model {
namespace {

using kernels::WeightFormat;
using Shape = std::vector<std::int64_t>;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

struct ExpectedBuilder {
    std::vector<ExpectedTensor> list;

    void add(std::string name, Shape shape, std::vector<DType> dtypes) {
        list.push_back({std::move(name), std::move(shape), std::move(dtypes)});
    }
    // BF16 preferred, F32 accepted (small parameters whose dtype the spec marks INFERRED).
    void vec(const std::string& name, Shape shape) {
        add(name, std::move(shape), {DType::bf16, DType::f32});
    }
    void f32(const std::string& name, Shape shape) {
        add(name, std::move(shape), {DType::f32, DType::bf16});
    }
    void fp8(const std::string& name, std::int64_t out, std::int64_t in) {
        add(name + ".weight", {out, in}, {DType::f8_e4m3});
        add(name + ".scale", {ceil_div(out, 128), ceil_div(in, 128)}, {DType::f8_e8m0});
    }
    void fp4(const std::string& name, std::int64_t out, std::int64_t in) {
        add(name + ".weight", {out, in / 2}, {DType::i8});
        add(name + ".scale", {out, in / 32}, {DType::f8_e8m0});
    }
};

void expect_block(ExpectedBuilder& b, const ModelConfig& c, const std::string& p,
                  std::int64_t layer) {
    const std::int64_t D = c.hidden_size;
    const std::int64_t hc = c.hc_mult;
    const std::int64_t H = c.num_attention_heads;
    const std::int64_t hd = c.head_dim;
    b.f32(p + "hc_attn_fn", {c.hc_mix(), hc * D});
    b.f32(p + "hc_ffn_fn", {c.hc_mix(), hc * D});
    b.f32(p + "hc_attn_base", {c.hc_mix()});
    b.f32(p + "hc_ffn_base", {c.hc_mix()});
    b.f32(p + "hc_attn_scale", {3});
    b.f32(p + "hc_ffn_scale", {3});
    b.vec(p + "attn_norm.weight", {D});
    b.vec(p + "ffn_norm.weight", {D});
    b.f32(p + "attn.attn_sink", {H});
    b.fp8(p + "attn.wq_a", c.q_lora_rank, D);
    b.vec(p + "attn.q_norm.weight", {c.q_lora_rank});
    b.fp8(p + "attn.wq_b", H * hd, c.q_lora_rank);
    b.fp8(p + "attn.wkv", hd, D);
    b.vec(p + "attn.kv_norm.weight", {hd});
    b.fp8(p + "attn.wo_a", c.o_groups * c.o_lora_rank, H * hd / c.o_groups);
    b.fp8(p + "attn.wo_b", D, c.o_groups * c.o_lora_rank);
    const std::int64_t r = c.ratio(layer);
    if (r > 0) {
        const std::int64_t cw = (r == 4 ? 2 : 1) * hd;
        b.f32(p + "attn.compressor.ape", {r, cw});
        b.vec(p + "attn.compressor.wkv.weight", {cw, D});
        b.vec(p + "attn.compressor.wgate.weight", {cw, D});
        b.vec(p + "attn.compressor.norm.weight", {hd});
    }
    if (r == 4) {
        const std::int64_t iw = 2 * c.index_head_dim;
        b.fp8(p + "attn.indexer.wq_b", c.index_n_heads * c.index_head_dim, c.q_lora_rank);
        b.vec(p + "attn.indexer.weights_proj.weight", {c.index_n_heads, D});
        b.f32(p + "attn.indexer.compressor.ape", {4, iw});
        b.vec(p + "attn.indexer.compressor.wkv.weight", {iw, D});
        b.vec(p + "attn.indexer.compressor.wgate.weight", {iw, D});
        b.vec(p + "attn.indexer.compressor.norm.weight", {c.index_head_dim});
    }
    const std::int64_t E = c.n_routed_experts;
    const std::int64_t I = c.moe_intermediate_size;
    b.vec(p + "ffn.gate.weight", {E, D});
    if (c.hash_routed(layer)) {
        b.add(p + "ffn.gate.tid2eid", {c.vocab_size, c.num_experts_per_tok}, {DType::i64});
    } else {
        b.f32(p + "ffn.gate.bias", {E});
    }
    b.fp8(p + "ffn.shared_experts.w1", I, D);
    b.fp8(p + "ffn.shared_experts.w2", D, I);
    b.fp8(p + "ffn.shared_experts.w3", I, D);
    for (std::int64_t e = 0; e < E; ++e) {
        const std::string ep = p + "ffn.experts." + std::to_string(e) + ".";
        if (c.expert_dtype == "fp4") {
            b.fp4(ep + "w1", I, D);
            b.fp4(ep + "w2", D, I);
            b.fp4(ep + "w3", I, D);
        } else {
            b.fp8(ep + "w1", I, D);
            b.fp8(ep + "w2", D, I);
            b.fp8(ep + "w3", I, D);
        }
    }
}

class Builder {
public:
    Builder(const ModelConfig& c, const Checkpoint& ck) : c_(c), ck_(ck) {}

    WeightMatrix matrix(const std::string& name) const {
        const TensorInfo& t = ck_.get(name);
        WeightMatrix w;
        w.rows = t.shape.at(0);
        w.cols = t.shape.at(1);
        w.data = t.data;
        w.format = t.dtype == DType::bf16 ? WeightFormat::bf16 : WeightFormat::f32;
        return w;
    }
    WeightMatrix quantized(const std::string& name) const {
        const TensorInfo& t = ck_.get(name + ".weight");
        const TensorInfo& s = ck_.get(name + ".scale");
        WeightMatrix w;
        w.rows = t.shape.at(0);
        w.data = t.data;
        w.scales = s.data;
        w.scale_cols = s.shape.at(1);
        if (t.dtype == DType::i8) {
            w.format = WeightFormat::fp4_block32;
            w.cols = t.shape.at(1) * 2;
        } else {
            w.format = WeightFormat::fp8_block128;
            w.cols = t.shape.at(1);
        }
        return w;
    }
    Vec vec(const std::string& name) const {
        const TensorInfo& t = ck_.get(name);
        Vec out(static_cast<std::size_t>(t.numel()));
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (t.dtype == DType::bf16) {
                std::uint16_t h;
                std::memcpy(&h, t.data + 2 * i, 2);
                out[i] = kernels::bf16_to_f32(h);
            } else {
                std::memcpy(&out[i], t.data + 4 * i, 4);
            }
        }
        return out;
    }
    HcParams hc(const std::string& p, const std::string& which) const {
        return {matrix(p + "hc_" + which + "_fn"), vec(p + "hc_" + which + "_base"),
                vec(p + "hc_" + which + "_scale")};
    }
    CompressorWeights compressor(const std::string& p, std::int64_t ratio, std::int64_t dim) const {
        CompressorWeights w;
        w.ratio = ratio;
        w.dim = dim;
        w.overlap = ratio == 4;
        w.wkv = matrix(p + "wkv.weight");
        w.wgate = matrix(p + "wgate.weight");
        w.ape = vec(p + "ape");
        w.norm = vec(p + "norm.weight");
        return w;
    }
    ExpertWeights expert(const std::string& p) const {
        return {quantized(p + "w1"), quantized(p + "w2"), quantized(p + "w3")};
    }
    BlockWeights block(const std::string& p, std::int64_t layer) const {
        BlockWeights b;
        b.id = layer;
        b.hc_attn = hc(p, "attn");
        b.hc_ffn = hc(p, "ffn");
        b.attn_norm = vec(p + "attn_norm.weight");
        b.ffn_norm = vec(p + "ffn_norm.weight");
        auto& a = b.attn;
        a.sink = vec(p + "attn.attn_sink");
        a.wq_a = quantized(p + "attn.wq_a");
        a.q_norm = vec(p + "attn.q_norm.weight");
        a.wq_b = quantized(p + "attn.wq_b");
        a.wkv = quantized(p + "attn.wkv");
        a.kv_norm = vec(p + "attn.kv_norm.weight");
        a.wo_a = quantized(p + "attn.wo_a");
        a.wo_b = quantized(p + "attn.wo_b");
        const std::int64_t r = c_.ratio(layer);
        if (r > 0) {
            a.compressor = compressor(p + "attn.compressor.", r, c_.head_dim);
        }
        if (r == 4) {
            IndexerWeights iw;
            iw.wq_b = quantized(p + "attn.indexer.wq_b");
            iw.weights_proj = matrix(p + "attn.indexer.weights_proj.weight");
            iw.compressor = compressor(p + "attn.indexer.compressor.", 4, c_.index_head_dim);
            a.indexer = std::move(iw);
        }
        auto& f = b.ffn;
        f.gate = matrix(p + "ffn.gate.weight");
        if (c_.hash_routed(layer)) {
            f.tid2eid = ck_.get(p + "ffn.gate.tid2eid").data;
        } else {
            f.bias = vec(p + "ffn.gate.bias");
        }
        f.shared = expert(p + "ffn.shared_experts.");
        for (std::int64_t e = 0; e < c_.n_routed_experts; ++e) {
            f.experts.push_back(expert(p + "ffn.experts." + std::to_string(e) + "."));
        }
        return b;
    }

private:
    const ModelConfig& c_;
    const Checkpoint& ck_;
};

}  // namespace

std::int64_t MoeWeights::hash_expert(std::int64_t token, std::int64_t slot, std::int64_t k) const {
    std::int64_t v;
    std::memcpy(&v, tid2eid + 8 * (token * k + slot), 8);
    return v;
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
    ExpectedBuilder b;
    const std::int64_t D = c.hidden_size;
    b.add("embed.weight", {c.vocab_size, D}, {DType::bf16, DType::f32});
    b.add("head.weight", {c.vocab_size, D}, {DType::bf16, DType::f32});
    b.vec("norm.weight", {D});
    b.f32("hc_head_fn", {c.hc_mult, c.hc_mult * D});
    b.f32("hc_head_base", {c.hc_mult});
    b.f32("hc_head_scale", {1});
    for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
        expect_block(b, c, "layers." + std::to_string(i) + ".", i);
    }
    for (std::int64_t m = 0; m < c.num_nextn_predict_layers; ++m) {
        const std::string p = "mtp." + std::to_string(m) + ".";
        expect_block(b, c, p, c.num_hidden_layers + m);
        b.fp8(p + "e_proj", D, D);
        b.fp8(p + "h_proj", D, D);
        b.vec(p + "enorm.weight", {D});
        b.vec(p + "hnorm.weight", {D});
        b.vec(p + "norm.weight", {D});
        b.f32(p + "hc_head_fn", {c.hc_mult, c.hc_mult * D});
        b.f32(p + "hc_head_base", {c.hc_mult});
        b.f32(p + "hc_head_scale", {1});
    }
    return b.list;
}

void validate_checkpoint(const ModelConfig& c, const Checkpoint& ck) {
    const auto expected = expected_tensors(c);
    std::set<std::string, std::less<>> names;
    for (const auto& e : expected) {
        names.insert(e.name);
        const TensorInfo* t = ck.find(e.name);
        if (t == nullptr) {
            throw CheckpointError(ck.dir().string() + ": missing tensor '" + e.name + "' (" +
                                  std::string(to_string(e.dtypes.front())) + " " +
                                  shape_string(e.shape) + ", required by config.json)");
        }
        if (t->shape != e.shape) {
            throw CheckpointError(t->file + ": tensor '" + e.name + "' has shape " +
                                  shape_string(t->shape) + ", expected " + shape_string(e.shape) +
                                  " from config.json");
        }
        bool ok = false;
        std::string allowed;
        for (DType d : e.dtypes) {
            ok = ok || d == t->dtype;
            allowed += (allowed.empty() ? "" : " or ") + std::string(to_string(d));
        }
        if (!ok) {
            throw CheckpointError(t->file + ": tensor '" + e.name + "' has dtype " +
                                  std::string(to_string(t->dtype)) + ", expected " + allowed);
        }
    }
    for (const auto& [name, t] : ck.tensors()) {
        if (names.count(name) == 0) {
            throw CheckpointError(t.file + ": unexpected tensor '" + name + "' (" +
                                  std::string(to_string(t.dtype)) + " " + shape_string(t.shape) +
                                  "): not part of a V4 model with this config.json");
        }
    }
    // Hash routing tables must name real experts.
    for (std::int64_t i = 0; i < c.num_hash_layers; ++i) {
        const TensorInfo& t = ck.get("layers." + std::to_string(i) + ".ffn.gate.tid2eid");
        for (std::int64_t k = 0; k < t.numel(); ++k) {
            std::int64_t v;
            std::memcpy(&v, t.data + 8 * k, 8);
            if (v < 0 || v >= c.n_routed_experts) {
                throw CheckpointError(t.file + ": tensor '" + t.name + "' holds expert id " +
                                      std::to_string(v) + " outside 0.." +
                                      std::to_string(c.n_routed_experts - 1));
            }
        }
    }
}

std::int64_t ModelWeights::dense_bytes_per_token() const {
    std::int64_t total = head.bytes() + hc_head.fn.bytes();
    total += embed.cols * (embed.format == kernels::WeightFormat::bf16 ? 2 : 4);
    for (const auto& b : layers) {
        const auto& a = b.attn;
        total += b.hc_attn.fn.bytes() + b.hc_ffn.fn.bytes();
        total += a.wq_a.bytes() + a.wq_b.bytes() + a.wkv.bytes() + a.wo_a.bytes() + a.wo_b.bytes();
        if (a.compressor) {
            total += a.compressor->wkv.bytes() + a.compressor->wgate.bytes();
        }
        if (a.indexer) {
            total += a.indexer->wq_b.bytes() + a.indexer->weights_proj.bytes() +
                     a.indexer->compressor.wkv.bytes() + a.indexer->compressor.wgate.bytes();
        }
        total += b.ffn.gate.bytes() + b.ffn.shared.w1.bytes() + b.ffn.shared.w2.bytes() +
                 b.ffn.shared.w3.bytes();
    }
    return total;
}

std::int64_t ModelWeights::expert_bytes() const {
    if (layers.empty() || layers[0].ffn.experts.empty()) {
        return 0;
    }
    const auto& e = layers[0].ffn.experts[0];
    return e.w1.bytes() + e.w2.bytes() + e.w3.bytes();
}

std::shared_ptr<const ModelWeights> load_model(const std::filesystem::path& dir) {
    auto w = std::make_shared<ModelWeights>();
    w->config = load_config(dir);
    w->checkpoint = Checkpoint::open(dir);
    const ModelConfig& c = w->config;
    validate_checkpoint(c, *w->checkpoint);
    const Builder b(c, *w->checkpoint);
    w->embed = b.matrix("embed.weight");
    w->head = b.matrix("head.weight");
    w->norm = b.vec("norm.weight");
    w->hc_head = {b.matrix("hc_head_fn"), b.vec("hc_head_base"), b.vec("hc_head_scale")};
    for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
        w->layers.push_back(b.block("layers." + std::to_string(i) + ".", i));
    }
    for (std::int64_t m = 0; m < c.num_nextn_predict_layers; ++m) {
        const std::string p = "mtp." + std::to_string(m) + ".";
        MtpWeights mt;
        mt.block = b.block(p, c.num_hidden_layers + m);
        mt.e_proj = b.quantized(p + "e_proj");
        mt.h_proj = b.quantized(p + "h_proj");
        mt.enorm = b.vec(p + "enorm.weight");
        mt.hnorm = b.vec(p + "hnorm.weight");
        mt.norm = b.vec(p + "norm.weight");
        mt.hc_head = {b.matrix(p + "hc_head_fn"), b.vec(p + "hc_head_base"),
                      b.vec(p + "hc_head_scale")};
        w->mtp.push_back(std::move(mt));
    }
    return w;
}

}  // namespace osprey::model
