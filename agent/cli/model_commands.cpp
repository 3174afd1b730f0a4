#include "agent/cli/model_commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/linear.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "model/backend.hpp"
#include "model/make_tiny.hpp"
#include "model/npy.hpp"
#include "model/sampler.hpp"
#include "model/session.hpp"
#include "model/weights.hpp"

namespace osprey::agent::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Bad input files (checkpoint, token file) are usage-class errors: exit 2 with the message.
int input_error(Io& io, const std::string& message) {
    io.err << "osprey: " << message << "\n";
    return kExitUsage;
}

std::int64_t int_option(const Args& args, const std::string& name, std::int64_t fallback,
                        std::int64_t min_value) {
    const auto v = args.value(name);
    if (!v) {
        return fallback;
    }
    std::int64_t out = 0;
    std::size_t used = 0;
    try {
        out = std::stoll(*v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v->size() || v->empty()) {
        throw UsageError("option '" + name + "' needs an integer, got '" + *v + "'");
    }
    if (out < min_value) {
        throw UsageError("option '" + name + "' must be at least " + std::to_string(min_value));
    }
    return out;
}

double float_option(const Args& args, const std::string& name, double fallback) {
    const auto v = args.value(name);
    if (!v) {
        return fallback;
    }
    std::size_t used = 0;
    double out = 0.0;
    try {
        out = std::stod(*v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v->size() || v->empty()) {
        throw UsageError("option '" + name + "' needs a number, got '" + *v + "'");
    }
    return out;
}

const std::string& model_dir(const Args& args) {
    if (args.positionals().empty()) {
        throw UsageError("missing the model folder DIR");
    }
    return args.positionals().front();
}

model::Numerics numerics_option(const Args& args) {
    try {
        return model::parse_numerics(args.value("--numerics").value_or("exact"));
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string(e.what()) + " for --numerics");
    }
}

// Token ids from a .npy int vector or a JSON array of integers.
std::vector<std::int32_t> read_tokens(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw model::NpyError(path + ": cannot read the token file");
    }
    char magic[6] = {};
    in.read(magic, 6);
    if (in.gcount() == 6 && std::memcmp(magic, "\x93NUMPY", 6) == 0) {
        auto a = model::read_npy_i32(path);
        if (a.shape.size() != 1) {
            throw model::NpyError(path + ": token ids must be a 1-D vector, got " +
                                  std::to_string(a.shape.size()) + " dimensions");
        }
        return a.data;
    }
    in.clear();
    in.seekg(0);
    std::stringstream buf;
    buf << in.rdbuf();
    json j;
    try {
        j = json::parse(buf.str());
    } catch (const json::parse_error&) {
        throw model::NpyError(path + ": not a .npy file or a JSON array of token ids");
    }
    if (!j.is_array()) {
        throw model::NpyError(path + ": expected a JSON array of token ids");
    }
    std::vector<std::int32_t> ids;
    for (const auto& v : j) {
        if (!v.is_number_integer()) {
            throw model::NpyError(path + ": token ids must be integers, got " + v.dump());
        }
        ids.push_back(v.get<std::int32_t>());
    }
    return ids;
}

void check_tokens(const std::vector<std::int32_t>& ids, std::int64_t vocab,
                  const std::string& what) {
    for (std::int32_t id : ids) {
        if (id < 0 || id >= vocab) {
            throw model::NpyError(what + ": token id " + std::to_string(id) + " outside 0.." +
                                  std::to_string(vocab - 1));
        }
    }
}

std::shared_ptr<model::Backend> make_backend(const Args& args,
                                             std::shared_ptr<const model::ModelWeights> w) {
    model::CpuBackendOptions o;
    o.threads = static_cast<unsigned>(int_option(args, "--threads", 0, 0));
    return model::make_cpu_backend(std::move(w), o);
}

// ---- info --------------------------------------------------------------------------------------
json info_json(const model::ModelWeights& w) {
    const auto& c = w.config;
    json layers = json::array();
    const std::int64_t total_layers = c.num_hidden_layers + c.num_nextn_predict_layers;
    for (std::int64_t l = 0; l < total_layers; ++l) {
        layers.push_back({{"id", l},
                          {"block", l < c.num_hidden_layers ? "decoder" : "mtp"},
                          {"kind", std::string(model::to_string(c.kind(l)))},
                          {"compress_ratio", c.ratio(l)},
                          {"routing", c.hash_routed(l) ? "hash" : "score"}});
    }
    std::map<std::string, std::int64_t> by_dtype;
    std::int64_t params = 0;
    for (const auto& [name, t] : w.checkpoint->tensors()) {
        by_dtype[std::string(model::to_string(t.dtype))] += static_cast<std::int64_t>(t.bytes);
        if (t.dtype == model::DType::f8_e8m0) {
            continue;  // scales are not parameters
        }
        params += t.dtype == model::DType::i8 ? 2 * t.numel() : t.numel();
    }
    // Bytes the KV state grows by per token (compressed rows; rings are constant).
    double fp32_growth = 0.0;
    double bf16_reference = 0.0;
    double compact = 0.0;
    const double main_row_compact = static_cast<double>(c.nope_dim()) +
                                    static_cast<double>((c.nope_dim() + 63) / 64) +
                                    2.0 * static_cast<double>(c.qk_rope_head_dim);
    const double index_row_compact =
        static_cast<double>(c.index_head_dim) / 2.0 + static_cast<double>(c.index_head_dim / 32);
    for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
        const auto r = static_cast<double>(c.ratio(l));
        if (r == 0) {
            continue;
        }
        double rowf = static_cast<double>(c.head_dim);
        double row_compact = main_row_compact;
        if (c.kind(l) == model::AttentionKind::csa) {
            rowf += static_cast<double>(c.index_head_dim);
            row_compact += index_row_compact;
        }
        fp32_growth += 4.0 * rowf / r;
        bf16_reference += 2.0 * rowf / r;
        compact += row_compact / r;
    }
    json out;
    out["model_type"] = c.model_type;
    out["config"] = {{"vocab_size", c.vocab_size},
                     {"hidden_size", c.hidden_size},
                     {"num_hidden_layers", c.num_hidden_layers},
                     {"num_nextn_predict_layers", c.num_nextn_predict_layers},
                     {"num_attention_heads", c.num_attention_heads},
                     {"head_dim", c.head_dim},
                     {"qk_rope_head_dim", c.qk_rope_head_dim},
                     {"q_lora_rank", c.q_lora_rank},
                     {"o_groups", c.o_groups},
                     {"o_lora_rank", c.o_lora_rank},
                     {"sliding_window", c.sliding_window},
                     {"compress_ratios", c.compress_ratios},
                     {"index_n_heads", c.index_n_heads},
                     {"index_head_dim", c.index_head_dim},
                     {"index_topk", c.index_topk},
                     {"n_routed_experts", c.n_routed_experts},
                     {"num_experts_per_tok", c.num_experts_per_tok},
                     {"moe_intermediate_size", c.moe_intermediate_size},
                     {"num_hash_layers", c.num_hash_layers},
                     {"hc_mult", c.hc_mult},
                     {"expert_dtype", c.expert_dtype},
                     {"max_position_embeddings", c.max_position_embeddings}};
    out["parameters"] = params;
    out["bytes_by_dtype"] = by_dtype;
    out["total_bytes"] = w.checkpoint->data_bytes();
    out["tensors"] = w.checkpoint->tensors().size();
    out["shards"] = w.checkpoint->shard_files().size();
    out["kv_bytes_per_token"] = {{"fp32_rows", fp32_growth},
                                 {"bf16_reference", bf16_reference},
                                 {"fp8_fp4_compact", compact}};
    out["decode_weight_bytes_per_token"] =
        w.dense_bytes_per_token() + c.num_experts_per_tok * c.num_hidden_layers * w.expert_bytes();
    out["layers"] = layers;
    return out;
}

int run_info(const Args& args, Io& io) {
    const std::string dir = model_dir(args);
    std::shared_ptr<const model::ModelWeights> w;
    try {
        w = model::load_model(dir);
    } catch (const model::ModelFormatError& e) {
        return input_error(io, e.what());
    }
    io.out << info_json(*w).dump(2) << "\n";
    return kExitOk;
}

// ---- logits ------------------------------------------------------------------------------------
int run_logits(const Args& args, Io& io) {
    const std::string dir = model_dir(args);
    const auto tokens_path = args.value("--tokens");
    const auto out_path = args.value("--out");
    if (!tokens_path || !out_path) {
        throw UsageError("logits needs --tokens FILE and --out FILE");
    }
    const model::Numerics numerics = numerics_option(args);
    std::shared_ptr<const model::ModelWeights> w;
    std::vector<std::int32_t> ids;
    try {
        w = model::load_model(dir);
        ids = read_tokens(*tokens_path);
        check_tokens(ids, w->config.vocab_size, *tokens_path);
    } catch (const model::ModelFormatError& e) {
        return input_error(io, e.what());
    } catch (const model::NpyError& e) {
        return input_error(io, e.what());
    }
    const auto n = static_cast<std::int64_t>(ids.size());
    if (n == 0) {
        return input_error(io, *tokens_path + ": no token ids");
    }
    const std::int64_t prefill = int_option(args, "--prefill", n, 0);
    if (prefill > n) {
        throw UsageError("--prefill " + std::to_string(prefill) + " exceeds the " +
                         std::to_string(n) + " tokens given");
    }
    const std::int64_t chunk = int_option(args, "--chunk", 0, 1);
    const std::int64_t V = w->config.vocab_size;
    auto backend = make_backend(args, w);
    model::SessionOptions opts;
    opts.numerics = numerics;
    opts.capacity = std::max<std::int64_t>(n, 1);
    std::vector<float> logits;
    std::int64_t rows = 0;
    if (args.has("--mtp")) {
        if (w->mtp.empty()) {
            return input_error(io, dir + ": the model has no MTP block");
        }
        if (prefill < 2) {
            throw UsageError("--mtp needs at least 2 prefill tokens");
        }
        // Main prefill (in chunks), keeping the final pre-head streams, then the MTP block over
        // positions 0..P-2 with the next tokens 1..P-1.
        auto state = backend->create_state(opts);
        std::vector<float> streams;
        const std::int64_t step = chunk > 0 ? chunk : prefill;
        for (std::int64_t i = 0; i < prefill; i += step) {
            const std::int64_t m = std::min(step, prefill - i);
            std::vector<float> part;
            model::ForwardRequest req;
            req.all_logits = false;
            req.final_streams = &part;
            backend->forward(*state,
                             std::span<const std::int32_t>(ids).subspan(
                                 static_cast<std::size_t>(i), static_cast<std::size_t>(m)),
                             req);
            streams.insert(streams.end(), part.begin(), part.end());
        }
        const std::int64_t row = w->config.hc_mult * w->config.hidden_size;
        streams.resize(static_cast<std::size_t>((prefill - 1) * row));
        const std::vector<std::int32_t> next(ids.begin() + 1, ids.begin() + prefill);
        logits = backend->mtp_forward(*state, streams, next);
        rows = prefill - 1;
    } else {
        model::Session session(backend, opts);
        if (prefill > 0) {
            logits = session.append(
                std::span<const std::int32_t>(ids).first(static_cast<std::size_t>(prefill)), chunk,
                true);
        }
        for (std::int64_t i = prefill; i < n; ++i) {
            const auto l = session.decode(ids[static_cast<std::size_t>(i)]);
            logits.insert(logits.end(), l.begin(), l.end());
        }
        rows = n;
    }
    model::write_npy_f32(*out_path, {rows, V}, logits.data());
    io.err << "wrote " << *out_path << ": [" << rows << ", " << V << "] float32 ("
           << model::to_string(numerics) << ")\n";
    return kExitOk;
}

// ---- generate ----------------------------------------------------------------------------------
int run_generate(const Args& args, Io& io) {
    const std::string dir = model_dir(args);
    const auto prompt_path = args.value("--prompt-tokens");
    if (!prompt_path) {
        throw UsageError("generate needs --prompt-tokens FILE");
    }
    model::SamplingParams sp;
    sp.temperature = static_cast<float>(float_option(args, "--temp", 0.0));
    sp.top_p = static_cast<float>(float_option(args, "--top-p", 1.0));
    sp.top_k = int_option(args, "--top-k", 0, 0);
    sp.min_p = static_cast<float>(float_option(args, "--min-p", 0.0));
    sp.seed = static_cast<std::uint64_t>(int_option(args, "--seed", 0, 0));
    const std::int64_t n = int_option(args, "-n", 16, 0);
    std::unique_ptr<model::Sampler> sampler;
    try {
        sampler = std::make_unique<model::Sampler>(sp);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    std::shared_ptr<const model::ModelWeights> w;
    std::vector<std::int32_t> prompt;
    try {
        w = model::load_model(dir);
        prompt = read_tokens(*prompt_path);
        check_tokens(prompt, w->config.vocab_size, *prompt_path);
    } catch (const model::ModelFormatError& e) {
        return input_error(io, e.what());
    } catch (const model::NpyError& e) {
        return input_error(io, e.what());
    }
    if (prompt.empty()) {
        return input_error(io, *prompt_path + ": empty prompt");
    }
    auto backend = make_backend(args, w);
    model::SessionOptions opts;
    opts.numerics = numerics_option(args);
    model::Session session(backend, opts);
    const auto t0 = Clock::now();
    auto logits = session.append(prompt, 0, false);
    const auto t1 = Clock::now();
    std::vector<std::int32_t> out;
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int32_t id = sampler->sample(logits);
        out.push_back(id);
        if (id == w->config.eos_token_id || i + 1 == n) {
            break;
        }
        logits = session.decode(id);
    }
    const auto t2 = Clock::now();
    for (std::size_t i = 0; i < out.size(); ++i) {
        io.out << (i ? " " : "") << out[i];
    }
    io.out << "\n";
    const double pre_s = std::chrono::duration<double>(t1 - t0).count();
    const double dec_s = std::chrono::duration<double>(t2 - t1).count();
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "prefill %zu tokens %.3f s (%.1f tok/s); decode %zu tokens %.3f s (%.2f tok/s)\n",
                  prompt.size(), pre_s, static_cast<double>(prompt.size()) / pre_s, out.size(),
                  dec_s, out.size() > 1 ? static_cast<double>(out.size() - 1) / dec_s : 0.0);
    io.err << buf;
    return kExitOk;
}

// ---- make-tiny ---------------------------------------------------------------------------------
int run_make_tiny(const Args& args, Io& io) {
    const auto out_dir = args.value("--out");
    const auto config = args.value("--config");
    if (!out_dir || !config) {
        throw UsageError("make-tiny needs --out DIR and --config JSON");
    }
    const auto seed = static_cast<std::uint64_t>(int_option(args, "--seed", 0, 0));
    std::string text = *config;
    if (text.find('{') == std::string::npos) {  // a file name
        std::ifstream in(text, std::ios::binary);
        if (!in) {
            return input_error(io, text + ": cannot read the config");
        }
        std::stringstream buf;
        buf << in.rdbuf();
        text = buf.str();
    }
    model::MakeTinyResult r;
    try {
        r = model::make_tiny_checkpoint(text, *out_dir, seed);
    } catch (const model::ConfigError& e) {
        return input_error(io, e.what());
    }
    io.out << "wrote " << *out_dir << ": " << r.tensors << " tensors, " << r.bytes << " bytes in "
           << r.shards << " shards\n";
    return kExitOk;
}

// ---- bench -------------------------------------------------------------------------------------
// Bytes per second of a multi-threaded memcpy over buffers much larger than the caches.
double copy_bandwidth(kernels::ThreadPool& pool, std::size_t bytes) {
    std::vector<char> src(bytes, 1);
    std::vector<char> dst(bytes, 0);
    double best = 0.0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        pool.parallel_for(
            static_cast<std::int64_t>(bytes), 1 << 20, [&](std::int64_t b, std::int64_t e) {
                std::memcpy(dst.data() + b, src.data() + b, static_cast<std::size_t>(e - b));
            });
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        best = std::max(best, static_cast<double>(bytes) / s);
    }
    return best;
}

int run_bench(const Args& args, Io& io) {
    const std::string dir = model_dir(args);
    const std::int64_t prompt_n = int_option(args, "--prompt", 128, 1);
    const std::int64_t gen_n = int_option(args, "--gen", 32, 1);
    const auto threads = static_cast<unsigned>(int_option(args, "--threads", 0, 0));
    std::shared_ptr<const model::ModelWeights> w;
    try {
        w = model::load_model(dir);
    } catch (const model::ModelFormatError& e) {
        return input_error(io, e.what());
    }
    auto backend = make_backend(args, w);
    model::SessionOptions opts;
    opts.numerics = numerics_option(args);
    model::Session session(backend, opts);
    std::mt19937 rng(1);
    std::uniform_int_distribution<std::int32_t> tok(
        2, static_cast<std::int32_t>(std::min<std::int64_t>(w->config.vocab_size - 1, 100000)));
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(prompt_n));
    for (auto& t : prompt) {
        t = tok(rng);
    }
    const auto t0 = Clock::now();
    auto logits = session.append(prompt, 0, false);
    const auto t1 = Clock::now();
    for (std::int64_t i = 0; i < gen_n; ++i) {
        logits = session.decode(model::argmax(logits));
    }
    const auto t2 = Clock::now();
    const double pre_s = std::chrono::duration<double>(t1 - t0).count();
    const double dec_s = std::chrono::duration<double>(t2 - t1).count();
    const double bytes_per_token = static_cast<double>(backend->decode_weight_bytes());
    const double weight_bw = bytes_per_token * static_cast<double>(gen_n) / dec_s;
    kernels::ThreadPool pool(threads);
    const double copy_bw = copy_bandwidth(pool, 256U << 20);
    json out = {{"model", dir},
                {"threads", pool.size()},
                {"kernels", kernels::linear_kernel_variant()},
                {"numerics", std::string(model::to_string(opts.numerics))},
                {"prompt_tokens", prompt_n},
                {"prefill_seconds", pre_s},
                {"prefill_tokens_per_second", static_cast<double>(prompt_n) / pre_s},
                {"decode_tokens", gen_n},
                {"decode_seconds", dec_s},
                {"decode_tokens_per_second", static_cast<double>(gen_n) / dec_s},
                {"decode_weight_bytes_per_token", bytes_per_token},
                {"decode_weight_gb_per_second", weight_bw / 1e9},
                {"memcpy_gb_per_second", copy_bw / 1e9},
                {"decode_to_memcpy_ratio", weight_bw / copy_bw},
                {"kv_bytes", session.byte_size()},
                {"kv_tokens", session.token_count()}};
    if (args.has("--json")) {
        io.out << out.dump(2) << "\n";
        return kExitOk;
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "threads %u, kernels %s, numerics %s\n"
                  "prefill: %lld tokens in %.3f s = %.1f tokens/s\n"
                  "decode:  %lld tokens in %.3f s = %.2f tokens/s\n"
                  "decode weights: %.1f MB/token = %.2f GB/s\n"
                  "memcpy: %.2f GB/s (same threads); decode/memcpy = %.0f%%\n"
                  "kv: %lld bytes for %lld tokens\n",
                  pool.size(), kernels::linear_kernel_variant(),
                  std::string(model::to_string(opts.numerics)).c_str(),
                  static_cast<long long>(prompt_n), pre_s, static_cast<double>(prompt_n) / pre_s,
                  static_cast<long long>(gen_n), dec_s, static_cast<double>(gen_n) / dec_s,
                  bytes_per_token / 1e6, weight_bw / 1e9, copy_bw / 1e9,
                  100.0 * weight_bw / copy_bw, static_cast<long long>(session.byte_size()),
                  static_cast<long long>(session.token_count()));
    io.out << buf;
    return kExitOk;
}

}  // namespace

Command model_command() {
    const Option threads{"--threads", "N", "worker threads (default: every core)"};
    const Option numerics{"--numerics", "MODE",
                          "exact (default: the official rounding points) or fp32 (reference)"};
    Command info;
    info.name = "info";
    info.summary = "print a checkpoint's config, parameters, bytes by dtype and layer kinds (JSON)";
    info.positional_usage = "DIR";
    info.max_positionals = 1;
    info.run = run_info;

    Command logits;
    logits.name = "logits";
    logits.summary = "write the logits after every position as .npy float32 [tokens, vocab]";
    logits.description =
        "Feeds the first P tokens as prefill (in chunks of N when given), then every remaining "
        "token one at a time through the decode path (teacher forcing). With --mtp, writes the MTP "
        "block's logits for positions 0..P-2 instead.";
    logits.positional_usage = "DIR";
    logits.max_positionals = 1;
    logits.options = {{"--tokens", "FILE", "token ids: .npy int32 vector or JSON array"},
                      {"--out", "FILE", "output .npy"},
                      {"--prefill", "P", "tokens fed as prefill (default: all)"},
                      {"--chunk", "N", "prefill chunk size (default: one call)"},
                      numerics,
                      {"--mtp", "", "write the MTP block's logits"},
                      threads};
    logits.run = run_logits;

    Command generate;
    generate.name = "generate";
    generate.summary = "sample tokens after a prompt; prints ids (stdout) and speed (stderr)";
    generate.positional_usage = "DIR";
    generate.max_positionals = 1;
    generate.options = {{"--prompt-tokens", "FILE", "prompt ids: .npy int32 vector or JSON array"},
                        {"-n", "N", "tokens to generate (default 16; stops at EOS)"},
                        {"--temp", "T", "temperature (default 0 = greedy)"},
                        {"--top-p", "P", "nucleus filter (default 1)"},
                        {"--top-k", "K", "top-k filter (default 0 = off)"},
                        {"--min-p", "P", "min-p filter (default 0 = off)"},
                        {"--seed", "S", "sampling seed (default 0)"},
                        numerics,
                        threads};
    generate.run = run_generate;

    Command make_tiny;
    make_tiny.name = "make-tiny";
    make_tiny.summary = "write a random-weight checkpoint in the released format for a config";
    make_tiny.options = {{"--out", "DIR", "output folder"},
                         {"--config", "JSON", "config.json text or a file holding it"},
                         {"--seed", "S", "random seed (default 0)"}};
    make_tiny.run = run_make_tiny;

    Command bench;
    bench.name = "bench";
    bench.summary = "measure prefill and decode speed, weight bandwidth and KV bytes";
    bench.positional_usage = "DIR";
    bench.max_positionals = 1;
    bench.options = {{"--prompt", "N", "prompt tokens (default 128)"},
                     {"--gen", "N", "decoded tokens (default 32)"},
                     numerics,
                     threads,
                     {"--json", "", "print as JSON"}};
    bench.run = run_bench;

    Command c;
    c.name = "model";
    c.summary = "inspect, run and benchmark a DeepSeek-V4 checkpoint";
    c.subcommands = {info, logits, generate, make_tiny, bench};
    return c;
}

}  // namespace osprey::agent::cli
