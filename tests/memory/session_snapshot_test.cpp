// KV session snapshots on a make-tiny model (tiny-a's shape: window 8, compress ratios 4 with an
// indexer and 16, an MTP block): restore after a "restart" (new weights mapping, new backend)
// continues bit-exactly in fp32 and exact numerics (compact and fp32 KV), fork and rewind give the
// original's logits, and every kind of damaged or mismatched file is refused with a clear message.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "memory/session_snapshot.hpp"
#include "model/make_tiny.hpp"
#include "model/weights.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace osprey;
using osprey::test::TempDir;

namespace {

constexpr std::string_view kFingerprint = "tiny-a@test";

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
}

// tiny-a's config with `changes` applied, written as a make-tiny checkpoint once per variant.
fs::path checkpoint(const std::string& variant, const nlohmann::json& changes) {
    static TempDir dir;
    const fs::path out = dir.path() / variant;
    if (!fs::exists(out / "config.json")) {
        auto config = nlohmann::json::parse(
            read_all(fs::path(OSPREY_SHARED_DIR) / "golden" / "tiny-a" / "config.json"));
        config.merge_patch(changes);
        model::make_tiny_checkpoint(config.dump(), out, 7);
    }
    return out;
}

fs::path tiny_a() {
    return checkpoint("tiny-a", nlohmann::json::object());
}

// A backend on a fresh mapping of the checkpoint, as a restarted process would make.
std::shared_ptr<model::Backend> fresh_backend(const fs::path& dir) {
    model::CpuBackendOptions cpu;
    cpu.threads = 2;
    return model::make_cpu_backend(model::load_model(dir), cpu);
}

std::vector<std::int32_t> random_tokens(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::int32_t> t(n);
    for (auto& id : t) {
        id = static_cast<std::int32_t>(rng() % 512);
    }
    return t;
}

std::string snapshot_error(const fs::path& model_dir, const fs::path& file,
                           std::string_view fingerprint = kFingerprint) {
    try {
        memory::read_session_snapshot(fresh_backend(model_dir), file, fingerprint);
    } catch (const memory::KvSnapshotError& e) {
        return e.what();
    }
    return "no error";
}

// 0 when the logits are bit-identical; inf when their sizes differ. Reports a number on failure
// instead of two vocabularies of floats.
float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size() || a.empty()) {
        return std::numeric_limits<float>::infinity();
    }
    float worst = 0.0F;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, a[i] == b[i] ? 0.0F : std::fabs(a[i] - b[i]) + 1e-30F);
    }
    return worst;
}

// Forwards to a real backend and counts the tokens that went through the forward pass.
class CountingBackend final : public model::Backend {
public:
    explicit CountingBackend(std::shared_ptr<model::Backend> inner) : inner_(std::move(inner)) {}
    std::int64_t forwarded = 0;

    std::string name() const override { return inner_->name(); }
    const model::ModelConfig& config() const override { return inner_->config(); }
    std::unique_ptr<model::BackendState> create_state(const model::SessionOptions& o) override {
        return inner_->create_state(o);
    }
    std::vector<float> forward(model::BackendState& state, std::span<const std::int32_t> tokens,
                               const model::ForwardRequest& request) override {
        forwarded += static_cast<std::int64_t>(tokens.size());
        return inner_->forward(state, tokens, request);
    }
    bool truncate(model::BackendState& state, std::int64_t length) override {
        return inner_->truncate(state, length);
    }
    std::vector<float> mtp_forward(model::BackendState& state, std::span<const float> streams,
                                   std::span<const std::int32_t> next) override {
        return inner_->mtp_forward(state, streams, next);
    }
    std::int64_t decode_weight_bytes() const override { return inner_->decode_weight_bytes(); }
    void save_state(const model::BackendState& state, const model::StateSink& sink) const override {
        inner_->save_state(state, sink);
    }
    std::unique_ptr<model::BackendState> restore_state(const model::SessionOptions& o,
                                                       std::int64_t length,
                                                       const model::StateSource& source) override {
        return inner_->restore_state(o, length, source);
    }

private:
    std::shared_ptr<model::Backend> inner_;
};

struct Options {
    const char* name;
    model::SessionOptions session;
};

std::vector<Options> all_numerics() {
    model::SessionOptions fp32;
    fp32.numerics = model::Numerics::fp32;
    fp32.rewind_margin = 32;
    model::SessionOptions exact = fp32;
    exact.numerics = model::Numerics::exact;
    model::SessionOptions exact_f32kv = exact;
    exact_f32kv.compact_kv = false;
    return {{"fp32", fp32}, {"exact", exact}, {"exact, fp32 KV", exact_f32kv}};
}

}  // namespace

TEST_CASE("a restored session continues exactly like the uninterrupted one, fork and rewind too") {
    const fs::path dir = tiny_a();
    // 37 tokens: past the window (8), 9 rows of ratio 4 (+ indexer keys) and 2 of ratio 16, with
    // partial compressor blocks at the end; snapshot k at 29 (mid-block for both ratios).
    const auto tokens = random_tokens(37, 1);
    const auto more = random_tokens(10, 2);
    const auto other = random_tokens(6, 3);
    constexpr std::int64_t k = 29;
    for (const auto& [name, options] : all_numerics()) {
        INFO(name);
        TempDir tmp;
        const fs::path at_k = tmp.path() / "k.kv";
        const fs::path at_end = tmp.path() / "end.kv";

        auto backend = fresh_backend(dir);
        model::Session original(backend, options);
        original.append(std::span<const std::int32_t>(tokens).first(k), 5, false);
        const std::uint64_t size_k = memory::write_session_snapshot(original, at_k, kFingerprint);
        CHECK(size_k == fs::file_size(at_k));
        std::vector<std::vector<float>> logits_at;  // logits after token i, i >= k
        for (std::int64_t i = k; i < 37; ++i) {
            logits_at.push_back(original.decode(tokens[static_cast<std::size_t>(i)]));
        }
        memory::write_session_snapshot(original, at_end, kFingerprint);
        const std::int64_t original_bytes = original.byte_size();

        // A "restart": new weights mapping, new backend; the state comes from the file alone.
        {
            model::Session resumed =
                memory::read_session_snapshot(fresh_backend(dir), at_end, kFingerprint);
            CHECK(resumed.tokens() == original.tokens());
            CHECK(resumed.byte_size() == original_bytes);
            CHECK(resumed.options().numerics == options.numerics);
            CHECK(resumed.options().compact_kv == options.compact_kv);
            for (std::int32_t t : more) {
                const auto want = original.decode(t);
                const auto got = resumed.decode(t);
                REQUIRE(max_diff(got, want) == 0.0F);  // bit-exact, not just within 1e-5
            }
            // Rewind the resumed session back to k (within the margin: its rings came from the
            // file too) and to k on the original: both give the original's logits at step k.
            resumed.truncate(k);
            CHECK(max_diff(resumed.decode(tokens[k]), logits_at[0]) == 0.0F);
            original.truncate(k);
            CHECK(max_diff(original.decode(tokens[k]), logits_at[0]) == 0.0F);
        }
        // Fork at k: one branch replays the original's next token, another goes its own way and
        // equals a session that took that way without any snapshot.
        {
            model::Session fork =
                memory::read_session_snapshot(fresh_backend(dir), at_k, kFingerprint);
            CHECK(fork.token_count() == k);
            CHECK(max_diff(fork.decode(tokens[k]), logits_at[0]) == 0.0F);
            model::Session branch = memory::read_session_snapshot(backend, at_k, kFingerprint);
            model::Session reference(backend, options);
            reference.append(std::span<const std::int32_t>(tokens).first(k), 5, false);
            for (std::int32_t t : other) {
                REQUIRE(max_diff(branch.decode(t), reference.decode(t)) == 0.0F);
            }
            CHECK(branch.byte_size() == reference.byte_size());
        }
    }
}

TEST_CASE("restoring a snapshot runs no token through the forward pass") {
    const fs::path dir = tiny_a();
    TempDir tmp;
    const fs::path file = tmp.path() / "s.kv";
    model::SessionOptions options;
    options.numerics = model::Numerics::exact;
    model::Session original(fresh_backend(dir), options);
    original.append(random_tokens(40, 9), 16, false);
    memory::write_session_snapshot(original, file, kFingerprint);
    auto counting = std::make_shared<CountingBackend>(fresh_backend(dir));
    model::Session resumed = memory::read_session_snapshot(counting, file, kFingerprint);
    CHECK(counting->forwarded == 0);
    CHECK(resumed.token_count() == 40);
    CHECK(max_diff(resumed.decode(3), original.decode(3)) == 0.0F);
    CHECK(counting->forwarded == 1);
    // The fallback snapshot (token ids only) replays them: the difference this file makes.
    std::stringstream ids_only;
    original.save(ids_only);
    model::Session replayed = model::Session::load(counting, ids_only);
    CHECK(counting->forwarded == 1 + 41);
}

TEST_CASE("the MTP block's cache is part of the snapshot") {
    const fs::path dir = tiny_a();
    TempDir tmp;
    const fs::path file = tmp.path() / "mtp.kv";
    auto backend = fresh_backend(dir);
    const auto& c = backend->config();
    const auto tokens = random_tokens(21, 4);
    const std::size_t width = static_cast<std::size_t>(c.hc_mult * c.hidden_size);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    const auto streams = [&](std::size_t n) {
        std::vector<float> s(n * width);
        for (auto& v : s) {
            v = normal(rng);
        }
        return s;
    };
    model::SessionOptions options;
    options.numerics = model::Numerics::exact;
    model::Session original(backend, options);
    original.append(tokens);
    backend->mtp_forward(original.state(), streams(tokens.size()), tokens);
    memory::write_session_snapshot(original, file, kFingerprint);
    model::Session resumed = memory::read_session_snapshot(fresh_backend(dir), file, kFingerprint);
    const auto next = random_tokens(3, 6);
    const auto s = streams(next.size());
    CHECK(max_diff(resumed.backend().mtp_forward(resumed.state(), s, next),
                   backend->mtp_forward(original.state(), s, next)) == 0.0F);
}

TEST_CASE("damaged or mismatched session snapshots are refused with a clear message") {
    const fs::path dir = tiny_a();
    TempDir tmp;
    const fs::path file = tmp.path() / "s.kv";
    model::SessionOptions options;
    options.numerics = model::Numerics::fp32;
    options.rewind_margin = 8;
    model::Session session(fresh_backend(dir), options);
    session.append(random_tokens(23, 7));
    memory::write_session_snapshot(session, file, kFingerprint);
    const std::string good = read_all(file);

    SECTION("truncated") {
        write_all(file, good.substr(0, good.size() * 2 / 3));
        const auto e = snapshot_error(dir, file);
        CHECK_THAT(e, Catch::Contains(file.string()) && Catch::Contains("is truncated"));
    }
    SECTION("a flipped byte inside a layer's state") {
        const auto at = good.find("layer.1.compressor.rows");
        REQUIRE(at != std::string::npos);
        std::string bad = good;
        bad[at + 23 + 8 + 8 + 10] ^= 0x20;  // name, size, checksum, then the 10th data byte
        write_all(file, bad);
        CHECK_THAT(snapshot_error(dir, file),
                   Catch::Contains(file.string()) &&
                       Catch::Contains("section 'layer.1.compressor.rows' checksum mismatch"));
    }
    SECTION("another model's fingerprint") {
        CHECK_THAT(snapshot_error(dir, file, "tiny-b@other"),
                   Catch::Contains("made for model 'tiny-a@test'") &&
                       Catch::Contains("not the loaded model 'tiny-b@other'"));
    }
    SECTION("a future format version") {
        std::string bad = good;
        const std::uint32_t future = memory::kKvSnapshotVersion + 1;
        std::memcpy(bad.data() + 8, &future, sizeof future);
        write_all(file, bad);
        CHECK_THAT(snapshot_error(dir, file), Catch::Contains("written by a newer Osprey"));
    }
    SECTION("a model config with another window") {
        const fs::path wider = checkpoint("window-16", {{"sliding_window", 16}});
        CHECK_THAT(snapshot_error(wider, file),
                   Catch::Contains(file.string()) && Catch::Contains("does not fit") &&
                       Catch::Contains("sliding_window is 8 in the saved state, 16 here"));
    }
    SECTION("a model config with other compress ratios") {
        const fs::path other =
            checkpoint("ratios", {{"compress_ratios", {0, 4, 4, 16, 0}}, {"sliding_window", 8}});
        CHECK_THAT(snapshot_error(other, file),
                   Catch::Contains("compress_ratios is [0,4,16,4,0] in the saved state"));
    }
    SECTION("the intact file still restores") {
        const auto s = memory::read_session_snapshot(fresh_backend(dir), file, kFingerprint);
        CHECK(s.token_count() == 23);
        CHECK(s.byte_size() == session.byte_size());
    }
}

TEST_CASE("Session::restore names a missing or resized section") {
    const fs::path dir = tiny_a();
    auto backend = fresh_backend(dir);
    model::SessionOptions options;
    options.numerics = model::Numerics::fp32;
    model::Session session(backend, options);
    session.append(random_tokens(13, 8));
    std::vector<std::pair<std::string, std::vector<std::byte>>> sections;
    session.save_state([&](std::string_view name, std::span<const std::byte> bytes) {
        sections.emplace_back(std::string(name),
                              std::vector<std::byte>(bytes.begin(), bytes.end()));
    });
    const auto source = [&](std::string_view name) -> std::optional<std::span<const std::byte>> {
        for (const auto& [n, b] : sections) {
            if (n == name) {
                return std::span<const std::byte>(b);
            }
        }
        return std::nullopt;
    };
    CHECK(model::Session::restore(backend, session.tokens(), source).byte_size() ==
          session.byte_size());
    const auto it = std::find_if(sections.begin(), sections.end(),
                                 [](const auto& s) { return s.first == "layer.3.indexer.rows"; });
    REQUIRE(it != sections.end());
    it->second.pop_back();
    CHECK_THROWS_WITH(
        model::Session::restore(backend, session.tokens(), source),
        Catch::Contains("section 'layer.3.indexer.rows' holds") && Catch::Contains("3 rows of"));
    sections.erase(it);
    CHECK_THROWS_WITH(model::Session::restore(backend, session.tokens(), source),
                      Catch::Contains("no section 'layer.3.indexer.rows'"));
    auto foreign = session.tokens();
    foreign[4] = 512;
    CHECK_THROWS_WITH(model::Session::restore(backend, foreign, source),
                      Catch::Contains("token id 512 at position 4 is outside"));
    auto fewer = session.tokens();
    fewer.pop_back();
    CHECK_THROWS_WITH(model::Session::restore(backend, fewer, source),
                      Catch::Contains("is for 13 tokens"));
}
