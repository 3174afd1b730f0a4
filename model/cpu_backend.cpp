// The CPU backend: host-memory state and the V4 forward pass built from the units in model/v4/,
// with kernels from kernels/cpu (SIMD dequantization on the fly, a thread pool over rows/heads).

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "kernels/cpu/thread_pool.hpp"
#include "model/backend.hpp"
#include "model/errors.hpp"
#include "model/v4/attention.hpp"
#include "model/v4/block.hpp"
#include "model/v4/mhc.hpp"
#include "model/v4/ops.hpp"
#include "model/v4/state.hpp"
#include "model/weights.hpp"

namespace osprey::model {

std::string_view to_string(Numerics numerics) {
    return numerics == Numerics::fp32 ? "fp32" : "exact";
}

Numerics parse_numerics(std::string_view text) {
    if (text == "fp32") {
        return Numerics::fp32;
    }
    if (text == "exact") {
        return Numerics::exact;
    }
    throw std::invalid_argument("unknown numerics '" + std::string(text) +
                                "': expected fp32 or exact");
}

namespace {

using v4::Ctx;

class CpuState final : public BackendState {
public:
    SessionOptions opts;
    std::int64_t len = 0;
    std::vector<v4::LayerState> layers;
    std::vector<v4::LayerState> mtp;
    std::int64_t mtp_len = 0;

    std::int64_t length() const override { return len; }
    const SessionOptions& options() const override { return opts; }
    std::int64_t bytes() const override {
        std::int64_t total = 0;
        for (const auto& l : layers) {
            total += l.bytes();
        }
        for (const auto& l : mtp) {
            total += l.bytes();
        }
        return total;
    }
};

class CpuBackend final : public Backend {
public:
    CpuBackend(std::shared_ptr<const ModelWeights> weights, const CpuBackendOptions& options)
        : w_(std::move(weights)), pool_(options.threads) {
        rope_.plain = v4::rope_frequencies(w_->config, false);
        rope_.compressed = v4::rope_frequencies(w_->config, true);
    }

    std::string name() const override { return "cpu"; }
    const ModelConfig& config() const override { return w_->config; }

    std::unique_ptr<BackendState> create_state(const SessionOptions& options) override {
        if (options.capacity < 1 || options.capacity > w_->config.max_position_embeddings) {
            throw std::invalid_argument(
                "session capacity " + std::to_string(options.capacity) + " outside 1.." +
                std::to_string(w_->config.max_position_embeddings) + " (max_position_embeddings)");
        }
        if (options.rewind_margin < 0) {
            throw std::invalid_argument("rewind_margin must not be negative");
        }
        auto s = std::make_unique<CpuState>();
        s->opts = options;
        reset(*s);
        return s;
    }

    std::vector<float> forward(BackendState& base, std::span<const std::int32_t> tokens,
                               const ForwardRequest& req) override {
        auto& s = dynamic_cast<CpuState&>(base);
        const ModelConfig& c = w_->config;
        const auto T = static_cast<std::int64_t>(tokens.size());
        if (T == 0) {
            return {};
        }
        if (s.len + T > s.opts.capacity) {
            throw std::length_error("session capacity exceeded: " + std::to_string(s.len) + " + " +
                                    std::to_string(T) + " tokens > " +
                                    std::to_string(s.opts.capacity));
        }
        for (std::int32_t id : tokens) {
            if (id < 0 || id >= c.vocab_size) {
                throw std::out_of_range("token id " + std::to_string(id) + " outside 0.." +
                                        std::to_string(c.vocab_size - 1));
            }
        }
        const Ctx ctx{c, s.opts.numerics == Numerics::exact, &pool_};
        const std::int64_t D = c.hidden_size;
        const std::int64_t hc = c.hc_mult;
        std::vector<float> streams(static_cast<std::size_t>(T * hc * D));
        embed(tokens, streams.data());
        const std::int64_t keep = std::min(req.hidden_positions, T);
        if (req.layer_hidden != nullptr) {
            req.layer_hidden->assign(static_cast<std::size_t>(c.num_hidden_layers * keep * hc * D),
                                     0.0F);
        }
        for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
            v4::block_forward(ctx, w_->layers[static_cast<std::size_t>(l)], rope_,
                              s.layers[static_cast<std::size_t>(l)], streams.data(), tokens.data(),
                              T, s.len);
            if (req.layer_hidden != nullptr) {
                std::copy(streams.begin(), streams.begin() + keep * hc * D,
                          req.layer_hidden->begin() + l * keep * hc * D);
            }
        }
        s.len += T;
        if (req.final_streams != nullptr) {
            *req.final_streams = streams;
        }
        const std::int64_t first = req.all_logits ? 0 : T - 1;
        return head(ctx, w_->hc_head, w_->norm, streams.data() + first * hc * D, T - first);
    }

    bool truncate(BackendState& base, std::int64_t length) override {
        auto& s = dynamic_cast<CpuState&>(base);
        if (length < 0 || length > s.len) {
            throw std::out_of_range("truncate to " + std::to_string(length) +
                                    " tokens: the session holds " + std::to_string(s.len));
        }
        if (length == s.len) {
            return true;
        }
        if (length == 0) {
            reset(s);
            return true;
        }
        if (s.len - length > s.opts.rewind_margin) {
            return false;
        }
        const ModelConfig& c = w_->config;
        for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
            auto& ls = s.layers[static_cast<std::size_t>(l)];
            const std::int64_t r = c.ratio(l);
            if (ls.compressor) {
                ls.compressor->rows.truncate(length / r);
            }
            if (ls.indexer) {
                ls.indexer->rows.truncate(length / 4);
            }
        }
        s.len = length;
        // The MTP cache follows the main positions; rewind it with them (or drop it).
        if (s.mtp_len > length) {
            s.mtp_len = (s.mtp_len - length <= s.opts.rewind_margin) ? length : 0;
        }
        return true;
    }

    std::vector<float> mtp_forward(BackendState& base, std::span<const float> streams,
                                   std::span<const std::int32_t> next_tokens) override {
        auto& s = dynamic_cast<CpuState&>(base);
        const ModelConfig& c = w_->config;
        if (w_->mtp.empty()) {
            throw std::invalid_argument("this model has no MTP block (num_nextn_predict_layers 0)");
        }
        const auto T = static_cast<std::int64_t>(next_tokens.size());
        const std::int64_t D = c.hidden_size;
        const std::int64_t hc = c.hc_mult;
        if (static_cast<std::int64_t>(streams.size()) != T * hc * D) {
            throw std::invalid_argument("mtp_forward: streams must be [tokens, hc, hidden]");
        }
        const Ctx ctx{c, s.opts.numerics == Numerics::exact, &pool_};
        const MtpWeights& m = w_->mtp[0];
        std::vector<float> e(static_cast<std::size_t>(T * D));
        embed_rows(next_tokens, e.data());
        v4::rms_norm(ctx, e.data(), m.enorm.data(), T, D, e.data());
        std::vector<float> h(streams.begin(), streams.end());
        v4::rms_norm(ctx, h.data(), m.hnorm.data(), T * hc, D, h.data());
        std::vector<float> x(static_cast<std::size_t>(T * hc * D));
        v4::linear(ctx, m.h_proj, h.data(), T * hc, x.data(), v4::LinearKind::quantized);
        std::vector<float> ep(static_cast<std::size_t>(T * D));
        v4::linear(ctx, m.e_proj, e.data(), T, ep.data(), v4::LinearKind::quantized);
        for (std::int64_t t = 0; t < T; ++t) {
            for (std::int64_t k = 0; k < hc; ++k) {
                float* xr = x.data() + (t * hc + k) * D;
                for (std::int64_t d = 0; d < D; ++d) {
                    xr[d] += ep[static_cast<std::size_t>(t * D + d)];
                }
            }
        }
        v4::round_act(ctx, x.data(), T * hc * D);
        v4::block_forward(ctx, m.block, rope_, s.mtp[0], x.data(), next_tokens.data(), T,
                          s.mtp_len);
        s.mtp_len += T;
        return head(ctx, m.hc_head, m.norm, x.data(), T);
    }

    std::int64_t decode_weight_bytes() const override {
        return w_->dense_bytes_per_token() +
               w_->config.num_experts_per_tok * w_->config.num_hidden_layers * w_->expert_bytes();
    }

    void save_state(const BackendState& base, const StateSink& sink) const override {
        const auto& s = dynamic_cast<const CpuState&>(base);
        const std::string shape = state_shape(s.opts, s.len, s.mtp_len).dump();
        sink(kShapeSection, std::as_bytes(std::span<const char>(shape)));
        for (std::size_t l = 0; l < s.layers.size(); ++l) {
            v4::save_layer_state(s.layers[l], "layer." + std::to_string(l), sink);
        }
        for (std::size_t m = 0; m < s.mtp.size(); ++m) {
            v4::save_layer_state(s.mtp[m], "mtp." + std::to_string(m), sink);
        }
    }

    std::unique_ptr<BackendState> restore_state(const SessionOptions& options, std::int64_t length,
                                                const StateSource& source) override {
        const auto shape_bytes = source(kShapeSection);
        if (!shape_bytes) {
            throw StateFormatError(std::string("saved state has no section '") + kShapeSection +
                                   "' (the shapes it was made for)");
        }
        const auto* text = reinterpret_cast<const char*>(shape_bytes->data());
        const auto saved = nlohmann::json::parse(text, text + shape_bytes->size(), nullptr, false);
        if (!saved.is_object() || !saved.contains("mtp_length") ||
            !saved["mtp_length"].is_number_integer()) {
            throw StateFormatError(std::string("saved state section '") + kShapeSection +
                                   "' is not the JSON object this backend writes");
        }
        const std::int64_t mtp_len = saved["mtp_length"].get<std::int64_t>();
        const nlohmann::json want = state_shape(options, length, mtp_len);
        std::string diffs;
        for (const auto& [key, value] : want.items()) {
            const auto it = saved.find(key);
            const std::string got = it == saved.end() ? "nothing" : it->dump();
            if (it == saved.end() || *it != value) {
                diffs += (diffs.empty() ? "" : "; ") + key + " is " + got +
                         " in the saved state, " + value.dump() + " here";
            }
        }
        if (!diffs.empty()) {
            throw StateFormatError(
                "saved state was made for another model config or session options: " + diffs);
        }
        if (mtp_len < 0 || mtp_len > length) {
            throw StateFormatError("saved state has an MTP cache of " + std::to_string(mtp_len) +
                                   " positions for a session of " + std::to_string(length));
        }
        if (length > options.capacity) {
            throw StateFormatError("saved state holds " + std::to_string(length) +
                                   " tokens, more than the session capacity " +
                                   std::to_string(options.capacity));
        }
        auto state = create_state(options);
        auto& s = static_cast<CpuState&>(*state);
        s.len = length;
        s.mtp_len = mtp_len;
        for (std::size_t l = 0; l < s.layers.size(); ++l) {
            const AttentionWeights& a = w_->layers[l].attn;
            v4::restore_layer_state(s.layers[l], "layer." + std::to_string(l), length,
                                    a.compressor ? a.compressor->ratio : 1,
                                    a.indexer ? a.indexer->compressor.ratio : 1, source);
        }
        for (std::size_t m = 0; m < s.mtp.size(); ++m) {
            const AttentionWeights& a = w_->mtp[m].block.attn;
            v4::restore_layer_state(s.mtp[m], "mtp." + std::to_string(m), mtp_len,
                                    a.compressor ? a.compressor->ratio : 1,
                                    a.indexer ? a.indexer->compressor.ratio : 1, source);
        }
        return state;
    }

private:
    static constexpr const char* kShapeSection = "state.shape";

    // What the saved sections' layout depends on: compared key by key on restore.
    nlohmann::json state_shape(const SessionOptions& o, std::int64_t len,
                               std::int64_t mtp_len) const {
        const ModelConfig& c = w_->config;
        return {{"backend", "cpu"},
                {"layers", c.num_hidden_layers},
                {"mtp_layers", w_->mtp.size()},
                {"hidden_size", c.hidden_size},
                {"head_dim", c.head_dim},
                {"qk_rope_head_dim", c.qk_rope_head_dim},
                {"index_head_dim", c.index_head_dim},
                {"sliding_window", c.sliding_window},
                {"compress_ratios", c.compress_ratios},
                {"numerics", std::string(to_string(o.numerics))},
                {"compact_kv", o.compact_kv},
                {"rewind_margin", o.rewind_margin},
                {"length", len},
                {"mtp_length", mtp_len}};
    }

    void reset(CpuState& s) const {
        const ModelConfig& c = w_->config;
        s.len = 0;
        s.mtp_len = 0;
        s.layers.assign(static_cast<std::size_t>(c.num_hidden_layers), {});
        for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
            v4::attention_init_state(c, w_->layers[static_cast<std::size_t>(l)].attn,
                                     s.layers[static_cast<std::size_t>(l)], s.opts.rewind_margin,
                                     compact(s));
        }
        s.mtp.assign(w_->mtp.size(), {});
        for (std::size_t m = 0; m < w_->mtp.size(); ++m) {
            v4::attention_init_state(c, w_->mtp[m].block.attn, s.mtp[m], s.opts.rewind_margin,
                                     compact(s));
        }
    }

    static bool compact(const CpuState& s) {
        return s.opts.numerics == Numerics::exact && s.opts.compact_kv;
    }

    void embed_rows(std::span<const std::int32_t> tokens, float* out) const {
        const std::int64_t D = w_->config.hidden_size;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            kernels::dequant_row(w_->embed, tokens[t], out + static_cast<std::int64_t>(t) * D);
        }
    }

    void embed(std::span<const std::int32_t> tokens, float* streams) const {
        const std::int64_t D = w_->config.hidden_size;
        const std::int64_t hc = w_->config.hc_mult;
        std::vector<float> row(static_cast<std::size_t>(D));
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            kernels::dequant_row(w_->embed, tokens[t], row.data());
            for (std::int64_t k = 0; k < hc; ++k) {
                std::copy(row.begin(), row.end(),
                          streams + (static_cast<std::int64_t>(t) * hc + k) * D);
            }
        }
    }

    std::vector<float> head(const Ctx& ctx, const HcParams& hcp, const Vec& norm,
                            const float* streams, std::int64_t n) {
        const std::int64_t D = w_->config.hidden_size;
        std::vector<float> y(static_cast<std::size_t>(n * D));
        v4::hc_head(ctx, hcp, streams, n, y.data());
        v4::rms_norm(ctx, y.data(), norm.data(), n, D, y.data());
        std::vector<float> logits(static_cast<std::size_t>(n * w_->config.vocab_size));
        v4::linear(ctx, w_->head, y.data(), n, logits.data(), v4::LinearKind::f32_out);
        return logits;
    }

    std::shared_ptr<const ModelWeights> w_;
    kernels::ThreadPool pool_;
    v4::RopeTables rope_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const ModelWeights> weights,
                                          const CpuBackendOptions& options) {
    return std::make_unique<CpuBackend>(std::move(weights), options);
}

}  // namespace osprey::model
