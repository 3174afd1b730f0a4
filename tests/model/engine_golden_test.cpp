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
