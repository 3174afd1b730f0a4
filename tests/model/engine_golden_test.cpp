// The engine against DeepSeek's official outputs on the tiny golden models (../shared/golden).
#include <catch2/catch.hpp>
#include <filesystem>

#include "model/backend.hpp"
#include "model/npy.hpp"
#include "model/weights.hpp"
#include "tests/model/golden_compare.hpp"

namespace fs = std::filesystem;
using namespace osprey::model;

namespace {

fs::path golden(const std::string& name) {
    return fs::path(OSPREY_SHARED_DIR) / "golden" / name;
}

struct Golden {
    std::shared_ptr<const ModelWeights> weights;
    std::vector<std::int32_t> prompt;
    std::vector<std::int32_t> greedy;
};

Golden load(const std::string& name) {
    Golden g;
    g.weights = load_model(golden(name));
    g.prompt = read_npy_i32(golden(name) / "prompt_ids.npy").data;
    g.greedy = read_npy_i32(golden(name) / "greedy_ids.npy").data;
    return g;
}

// Prefill the prompt in one call, then teacher-force greedy_ids[0..n) one at a time.
void run(Backend& be, const Golden& g, Numerics numerics, std::vector<float>& prefill,
         std::vector<float>& decode, std::int64_t decode_steps) {
    SessionOptions opts;
    opts.numerics = numerics;
    auto state = be.create_state(opts);
    prefill = be.forward(*state, g.prompt, {});
    decode.clear();
    for (std::int64_t i = 0; i < decode_steps; ++i) {
        const std::int32_t id = g.greedy[static_cast<std::size_t>(i)];
        auto l = be.forward(*state, std::span<const std::int32_t>(&id, 1), {});
        decode.insert(decode.end(), l.begin(), l.end());
    }
}

void check_fp32(const std::string& name) {
    const Golden g = load(name);
    auto be = make_cpu_backend(g.weights);
    const auto ref_prefill = read_npy_f32(golden(name) / "fp32ref_prefill_logits.npy");
    const auto ref_decode = read_npy_f32(golden(name) / "fp32ref_decode_logits.npy");
    const std::int64_t V = g.weights->config.vocab_size;
    std::vector<float> prefill, decode;
    run(*be, g, Numerics::fp32, prefill, decode, ref_decode.shape[0]);
    REQUIRE(prefill.size() == ref_prefill.data.size());
    const auto sp = osprey::test::compare_rows(prefill.data(), ref_prefill.data.data(),
                                               ref_prefill.shape[0], V);
    INFO(name << " prefill max rel " << sp.max_rel() << " agreement " << sp.agreement());
    CHECK(sp.max_rel() <= 1e-4);
    CHECK(sp.agreement() == 1.0);
    const auto sd =
        osprey::test::compare_rows(decode.data(), ref_decode.data.data(), ref_decode.shape[0], V);
    INFO(name << " decode max rel " << sd.max_rel() << " agreement " << sd.agreement());
    CHECK(sd.max_rel() <= 1e-4);
    CHECK(sd.agreement() == 1.0);
}

}  // namespace

TEST_CASE("fp32 mode matches the fp32 reference of tiny-a (prefill + teacher-forced decode)") {
    check_fp32("tiny-a");
}

TEST_CASE("fp32 mode matches the fp32 reference of tiny-b (prefill + teacher-forced decode)") {
    check_fp32("tiny-b");
}

TEST_CASE("fp32 mode matches the per-layer residual streams of tiny-a") {
    const Golden g = load("tiny-a");
    auto be = make_cpu_backend(g.weights);
    const auto ref = read_npy_f32(golden("tiny-a") / "fp32ref_prefill_hidden.npy");
    const std::int64_t layers = ref.shape[0];
    const std::int64_t positions = ref.shape[1];
    const std::int64_t width = ref.shape[2] * ref.shape[3];
    auto state = be->create_state({});
    std::vector<float> hidden;
    ForwardRequest req;
    req.layer_hidden = &hidden;
    req.hidden_positions = positions;
    be->forward(*state, g.prompt, req);
    REQUIRE(hidden.size() == ref.data.size());
    for (std::int64_t l = 0; l < layers; ++l) {
        const auto s =
            osprey::test::compare_rows(hidden.data() + l * positions * width,
                                       ref.data.data() + l * positions * width, positions, width);
        INFO("layer " << l << " max rel " << s.max_rel());
        CHECK(s.max_rel() <= 1e-4);
    }
}

namespace {

void check_exact(const std::string& name) {
    const Golden g = load(name);
    auto be = make_cpu_backend(g.weights);
    const auto ref_prefill = read_npy_f32(golden(name) / "prefill_logits.npy");
    const auto ref_decode = read_npy_f32(golden(name) / "decode_logits.npy");
    const std::int64_t V = g.weights->config.vocab_size;
    std::vector<float> prefill, decode;
    run(*be, g, Numerics::exact, prefill, decode, ref_decode.shape[0]);
    const auto sp = osprey::test::compare_rows(prefill.data(), ref_prefill.data.data(),
                                               ref_prefill.shape[0], V);
    INFO(name << " exact prefill median " << sp.quantile(0.5) << " p90 " << sp.quantile(0.9)
              << " agreement " << sp.agreement());
    CHECK(sp.quantile(0.5) <= 0.10);
    CHECK(sp.quantile(0.9) <= 0.25);
    CHECK(sp.agreement() >= 0.75);
    const auto sd =
        osprey::test::compare_rows(decode.data(), ref_decode.data.data(), ref_decode.shape[0], V);
    INFO(name << " exact decode median " << sd.quantile(0.5) << " p90 " << sd.quantile(0.9)
              << " agreement " << sd.agreement());
    CHECK(sd.quantile(0.5) <= 0.10);
    CHECK(sd.quantile(0.9) <= 0.25);
    CHECK(sd.agreement() >= 0.75);
}

}  // namespace

TEST_CASE("exact mode agrees statistically with the official numerics of tiny-a") {
    check_exact("tiny-a");
}

TEST_CASE("exact mode agrees statistically with the official numerics of tiny-b") {
    check_exact("tiny-b");
}

TEST_CASE("MTP block (exact mode) agrees statistically with tiny-a's mtp_logits") {
    const Golden g = load("tiny-a");
    auto be = make_cpu_backend(g.weights);
    const auto ref = read_npy_f32(golden("tiny-a") / "mtp_logits.npy");
    SessionOptions opts;
    opts.numerics = Numerics::exact;
    auto state = be->create_state(opts);
    std::vector<float> streams;
    ForwardRequest req;
    req.all_logits = false;
    req.final_streams = &streams;
    be->forward(*state, g.prompt, req);
    const std::int64_t P = static_cast<std::int64_t>(g.prompt.size());
    const std::int64_t row = g.weights->config.hc_mult * g.weights->config.hidden_size;
    const std::vector<float> inputs(streams.begin(), streams.begin() + (P - 1) * row);
    const std::vector<std::int32_t> next(g.prompt.begin() + 1, g.prompt.end());
    const auto logits = be->mtp_forward(*state, inputs, next);
    REQUIRE(static_cast<std::int64_t>(logits.size()) == ref.shape[0] * ref.shape[1]);
    const auto s =
        osprey::test::compare_rows(logits.data(), ref.data.data(), ref.shape[0], ref.shape[1]);
    INFO("mtp median " << s.quantile(0.5) << " p90 " << s.quantile(0.9) << " agreement "
                       << s.agreement());
    CHECK(s.quantile(0.5) <= 0.10);
    CHECK(s.quantile(0.9) <= 0.25);
    CHECK(s.agreement() >= 0.75);
}
