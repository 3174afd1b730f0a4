#include "agent/cli/memory_bench.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "memory/journal.hpp"
#include "memory/session_snapshot.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "model/make_tiny.hpp"
#include "model/session.hpp"
#include "model/weights.hpp"

namespace osprey::agent::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::size_t parse_count(const Args& args, const char* option, std::size_t fallback,
                        std::size_t max) {
    const auto v = args.value(option);
    if (!v) {
        return fallback;
    }
    std::size_t pos = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(*v, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != v->size() || n == 0 || n > max) {
        throw UsageError(std::string(option) + " must be a whole number from 1 to " +
                         std::to_string(max));
    }
    return static_cast<std::size_t>(n);
}

std::string format(const char* fmt, auto... values) {
    char line[512];
    std::snprintf(line, sizeof line, fmt, values...);
    return line;
}

// The benchmark model: tiny-a's shape (hidden 256, 4 layers, 8 experts, vocab 512, an MTP block)
// with V4-Flash's 128-token window and only heavily compressed (ratio 128) attention layers, so
// that prefilling 100k tokens takes a minute on two cores rather than hours (a ratio-4 layer's
// indexer scores every compressed row for every token).
nlohmann::json bench_config() {
    return nlohmann::json::parse(R"({
  "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
  "vocab_size": 512, "bos_token_id": 0, "eos_token_id": 1,
  "hidden_size": 256, "num_hidden_layers": 4, "num_nextn_predict_layers": 1,
  "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 128, "qk_rope_head_dim": 64,
  "q_lora_rank": 128, "o_lora_rank": 128, "o_groups": 2,
  "index_head_dim": 128, "index_n_heads": 16, "index_topk": 8,
  "sliding_window": 128, "compress_ratios": [0, 128, 0, 128, 0],
  "compress_rope_theta": 160000, "rope_theta": 10000,
  "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                   "beta_fast": 32, "beta_slow": 1},
  "max_position_embeddings": 1048576,
  "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
  "moe_intermediate_size": 128, "num_hash_layers": 2, "routed_scaling_factor": 1.5,
  "scoring_func": "sqrtsoftplus", "topk_method": "noaux_tc", "norm_topk_prob": true,
  "swiglu_limit": 10.0, "hidden_act": "silu", "expert_dtype": "fp4",
  "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-06, "rms_norm_eps": 1e-06,
  "attention_bias": false, "attention_dropout": 0.0, "initializer_range": 0.02,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
  "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                          "scale_fmt": "ue8m0", "weight_block_size": [128, 128]}
})");
}

struct Percentiles {
    double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Percentiles percentiles(std::vector<double> v) {
    Percentiles p;
    if (v.empty()) {
        return p;
    }
    std::sort(v.begin(), v.end());
    const auto at = [&v](double q) {
        return v[std::min(v.size() - 1,
                          static_cast<std::size_t>(q * static_cast<double>(v.size())))];
    };
    p.p50 = at(0.50);
    p.p99 = at(0.99);
    p.max = v.back();
    double sum = 0;
    for (double x : v) {
        sum += x;
    }
    p.mean = sum / static_cast<double>(v.size());
    return p;
}

// Figures go both to `text` (printed unless --json) and to `figures` (printed with --json).
struct Report {
    std::ostringstream text;
    nlohmann::json figures = nlohmann::json::object();
};

void bench_journal(const fs::path& dir, std::size_t events, Report& report) {
    auto& io = report.text;
    memory::Store store = memory::Store::open(dir / "journal");
    const std::string id =
        memory::Sessions(store.db()).create({dir.string(), "bench", "bench", "think", {}, {}});
    memory::Journal journal(store.db(), id);
    const std::string delta = R"({"type":"text.delta","text":"the quick brown fox "})";
    const std::string call =
        R"({"type":"tool.call","name":"shell","arguments":{"command":"make -j2 test"}})";
    io << format("journal (sqlite WAL, %zu events per mode, 50 ms batch window):\n", events);
    for (const auto durability : {memory::Durability::commit_now, memory::Durability::batched}) {
        const bool now = durability == memory::Durability::commit_now;
        std::vector<double> us;
        us.reserve(events);
        const auto t_all = Clock::now();
        for (std::size_t i = 0; i < events; ++i) {
            const auto t0 = Clock::now();
            journal.append(now ? "tool.call" : "text.delta", now ? call : delta,
                           static_cast<std::int64_t>(i), durability);
            us.push_back(seconds_since(t0) * 1e6);
        }
        const auto t_flush = Clock::now();
        journal.flush();
        const double flush_ms = seconds_since(t_flush) * 1e3;
        const double total = seconds_since(t_all);
        const Percentiles p = percentiles(us);
        io << format(
            "  %-10s append p50 %8.1f us  p99 %8.1f us  max %8.1f us  mean %8.1f us  "
            "(%.0f events/s; final flush %.2f ms)\n",
            now ? "commit_now" : "batched", p.p50, p.p99, p.max, p.mean,
            static_cast<double>(events) / total, flush_ms);
        report.figures["journal"][now ? "commit_now" : "batched"] = {
            {"events", events},          {"p50_us", p.p50},
            {"p99_us", p.p99},           {"max_us", p.max},
            {"mean_us", p.mean},         {"events_per_second", static_cast<double>(events) / total},
            {"final_flush_ms", flush_ms}};
    }
}

std::vector<std::int32_t> random_tokens(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::int32_t> t(n);
    for (auto& id : t) {
        id = static_cast<std::int32_t>(rng() % 512);
    }
    return t;
}

void bench_snapshot_io(const std::shared_ptr<model::Backend>& backend, const fs::path& dir,
                       std::size_t state_mb, std::string_view fingerprint, Report& report) {
    auto& io = report.text;
    // fp32 KV, with the rewind margin sized so that the state reaches the requested size: the
    // rings keep window + margin positions per layer (rewinding that far needs no recomputation).
    model::SessionOptions options;
    options.numerics = model::Numerics::fp32;
    options.rewind_margin = 0;
    const std::int64_t base = model::Session(backend, options).byte_size();
    options.rewind_margin = 1024;
    const std::int64_t per_margin = (model::Session(backend, options).byte_size() - base) / 1024;
    const auto target = static_cast<std::int64_t>(state_mb) * 1000 * 1000;
    options.rewind_margin = std::max<std::int64_t>(256, (target - base) / per_margin);
    options.capacity = 1 << 20;
    model::Session session(backend, options);
    session.append(random_tokens(2048, 1), 512, false);
    const auto state_bytes = static_cast<double>(session.byte_size());
    io << format(
        "snapshot write/restore (fp32 KV, 2048 tokens, rewind margin %lld: state %.1f MB):\n",
        static_cast<long long>(options.rewind_margin), state_bytes / 1e6);
    const fs::path file = dir / "throughput.kv";
    std::vector<double> write_s;
    std::vector<double> read_s;
    std::uint64_t size = 0;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = Clock::now();
        size = memory::write_session_snapshot(session, file, fingerprint);
        write_s.push_back(seconds_since(t0));
    }
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = Clock::now();
        const model::Session restored = memory::read_session_snapshot(backend, file, fingerprint);
        read_s.push_back(seconds_since(t0));
        if (restored.byte_size() != session.byte_size()) {
            throw std::runtime_error("restored session size differs from the original");
        }
    }
    // For scale: fresh memory in 4 KiB pages must be faulted in, which on some VMs costs more than
    // the copy (the state's big buffers ask for huge pages, v4::StateAllocator).
    std::vector<double> touch_s;
    for (int rep = 0; rep < 3; ++rep) {
        // A fresh anonymous mapping (malloc could hand back pages faulted in before), written so
        // that every page is faulted in.
        const auto t0 = Clock::now();
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::runtime_error("mmap of " + std::to_string(size) + " bytes failed");
        }
        std::memset(p, 1, size);
        touch_s.push_back(seconds_since(t0));
        ::munmap(p, size);
    }
    const auto best = [](const std::vector<double>& v) {
        return *std::min_element(v.begin(), v.end());
    };
    const auto gbs = [size](double s) { return static_cast<double>(size) / s / 1e9; };
    io << format("  file %.1f MB\n", static_cast<double>(size) / 1e6);
    io << format(
        "  write (xxh3 per section, temp file, fsync, rename, fsync dir): best %.3f s = %.2f "
        "GB/s (runs: %.3f %.3f %.3f s)\n",
        best(write_s), gbs(best(write_s)), write_s[0], write_s[1], write_s[2]);
    io << format(
        "  restore (mmap, verify every checksum, rebuild state; file in page cache): best %.3f s "
        "= %.2f GB/s (runs: %.3f %.3f %.3f s)\n",
        best(read_s), gbs(best(read_s)), read_s[0], read_s[1], read_s[2]);
    io << format(
        "  (for scale: filling as much fresh memory in 4 KiB pages: best %.3f s = %.2f GB/s)\n",
        best(touch_s), gbs(best(touch_s)));
    report.figures["snapshot"] = {{"state_bytes", state_bytes},
                                  {"file_bytes", size},
                                  {"rewind_margin", options.rewind_margin},
                                  {"write_seconds", write_s},
                                  {"restore_seconds", read_s},
                                  {"write_gb_per_second", gbs(best(write_s))},
                                  {"restore_gb_per_second", gbs(best(read_s))},
                                  {"fresh_memory_gb_per_second", gbs(best(touch_s))}};
    fs::remove(file);
}

void bench_resume(const fs::path& model_dir, unsigned threads, const fs::path& dir,
                  std::size_t tokens, std::string_view fingerprint, Report& report) {
    auto& io = report.text;
    model::CpuBackendOptions cpu;
    cpu.threads = threads;
    std::shared_ptr<model::Backend> backend =
        model::make_cpu_backend(model::load_model(model_dir), cpu);
    model::SessionOptions options;
    options.numerics = model::Numerics::exact;  // the CPU default (compact FP8/FP4 KV)
    const auto ids = random_tokens(tokens + 1, 2);
    const std::span<const std::int32_t> prompt = std::span<const std::int32_t>(ids).first(tokens);
    io << format("resume of a %zu-token session (exact numerics, compact KV):\n", tokens);
    model::Session session(backend, options);
    const auto t_prefill = Clock::now();
    session.append(prompt, 512, false);
    const double prefill_s = seconds_since(t_prefill);
    io << format("  prefill: %.2f s (%.0f tokens/s, chunks of 512)\n", prefill_s,
                 static_cast<double>(tokens) / prefill_s);
    const fs::path file = dir / "resume.kv";
    const auto t_write = Clock::now();
    const std::uint64_t size = memory::write_session_snapshot(session, file, fingerprint);
    const double write_s = seconds_since(t_write);
    io << format("  snapshot: %.2f MB (state %.2f MB) written in %.3f s\n",
                 static_cast<double>(size) / 1e6, static_cast<double>(session.byte_size()) / 1e6,
                 write_s);
    // A restarted process: a new weights mapping and backend, then the snapshot.
    std::shared_ptr<model::Backend> fresh =
        model::make_cpu_backend(model::load_model(model_dir), cpu);
    const auto t_resume = Clock::now();
    model::Session resumed = memory::read_session_snapshot(fresh, file, fingerprint);
    const double resume_s = seconds_since(t_resume);
    const bool same = resumed.decode(ids[tokens]) == session.decode(ids[tokens]);
    io << format(
        "  resume from snapshot: %.4f s  -> %.0fx faster than prefill "
        "(target >= 50x); next-step logits identical: %s\n",
        resume_s, prefill_s / resume_s, same ? "yes" : "NO");
    report.figures["resume"] = {{"tokens", tokens},
                                {"prefill_seconds", prefill_s},
                                {"snapshot_bytes", size},
                                {"state_bytes", session.byte_size()},
                                {"snapshot_write_seconds", write_s},
                                {"resume_seconds", resume_s},
                                {"speedup", prefill_s / resume_s},
                                {"logits_identical", same}};
    fs::remove(file);
    if (!same) {
        throw std::runtime_error("the resumed session's logits differ from the original's");
    }
}

// A temporary folder removed on exit (unless the user named the folder).
class BenchDir {
public:
    explicit BenchDir(const std::optional<std::string>& given) {
        if (given) {
            path_ = *given;
            fs::create_directories(path_);
            return;
        }
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                              "/osprey-bench-memory-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("cannot create a temporary folder from " + pattern);
        }
        path_ = pattern;
        owned_ = true;
    }
    BenchDir(const BenchDir&) = delete;
    BenchDir& operator=(const BenchDir&) = delete;
    ~BenchDir() {
        if (owned_) {
            std::error_code ignored;
            fs::remove_all(path_, ignored);
        }
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
    bool owned_ = false;
};

int run_bench_memory(const Args& args, Io& io) {
    const bool quick = args.has("--quick");
    const std::size_t events = parse_count(args, "--events", quick ? 200 : 2000, 10'000'000);
    const std::size_t state_mb = parse_count(args, "--state-mb", quick ? 16 : 128, 64'000);
    const std::size_t tokens =
        parse_count(args, "--resume-tokens", quick ? 4096 : 100'000, 1'000'000);
    const unsigned use_threads =
        args.has("--threads") ? static_cast<unsigned>(parse_count(args, "--threads", 1, 1024)) : 0;

    const bool json = args.has("--json");
    Report report;
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) != 3) {
        load[0] = load[1] = load[2] = -1;
    }
    report.text << format("machine: %u cores, load average %.2f %.2f %.2f (1/5/15 min)\n",
                          std::thread::hardware_concurrency(), load[0], load[1], load[2]);
    report.figures["cores"] = std::thread::hardware_concurrency();
    report.figures["load_average"] = {load[0], load[1], load[2]};
    const BenchDir dir(args.value("--data-dir"));
    report.text << "data folder: " << dir.path().string() << "\n";
    // Text goes out as each part finishes (the resume part can take minutes).
    const auto emit = [&] {
        if (!json) {
            io.out << report.text.str() << std::flush;
        }
        report.text.str("");
    };
    emit();
    bench_journal(dir.path(), events, report);
    emit();

    const fs::path model_dir = dir.path() / "model";
    model::make_tiny_checkpoint(bench_config().dump(), model_dir, 1);
    const std::string fingerprint = "bench-memory@tiny";
    model::CpuBackendOptions cpu;
    cpu.threads = use_threads;
    std::shared_ptr<model::Backend> backend =
        model::make_cpu_backend(model::load_model(model_dir), cpu);
    report.text << "model: make-tiny, hidden 256, 4 layers + MTP block (window 128, compress "
                   "ratios 0,128,0,128,0), 8 experts, vocab 512\n";
    bench_snapshot_io(backend, dir.path(), state_mb, fingerprint, report);
    emit();
    bench_resume(model_dir, use_threads, dir.path(), tokens, fingerprint, report);
    emit();
    if (json) {
        io.out << report.figures.dump(2) << "\n";
    }
    return kExitOk;
}

}  // namespace

Command memory_bench_command() {
    Command c;
    c.name = "memory";
    c.summary = "journal append latency, KV snapshot GB/s, resume vs re-prefill";
    c.description =
        "Appends events to a journal in a temporary data folder (commit_now: each one committed\n"
        "and fsync'd; batched: grouped per 50 ms) and prints per-append latency; writes and\n"
        "restores a KV session snapshot of about --state-mb MB on a make-tiny model (GB/s); and\n"
        "prefills a --resume-tokens session, snapshots it, and times resuming it on a fresh\n"
        "backend against the prefill (the next step's logits must be identical). Prints figures;\n"
        "it never fails on slowness. --quick: 200 events, 16 MB, 4096 tokens.";
    c.options = {
        {"--events", "N", "journal events per durability mode (default 2000)"},
        {"--state-mb", "N", "size of the snapshot throughput session in MB (default 128)"},
        {"--resume-tokens", "N", "tokens of the resumed session (default 100000)"},
        {"--threads", "N", "engine threads (default: all cores)"},
        {"--data-dir", "DIR", "folder for the journal, model and snapshots (default: temporary)"},
        {"--quick", "", "a small run (seconds)"},
        {"--json", "", "print the figures as one JSON object"},
    };
    c.run = run_bench_memory;
    return c;
}

}  // namespace osprey::agent::cli
