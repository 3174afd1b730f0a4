// Sampling: greedy, filters, and reproducibility per seed.
#include <catch2/catch.hpp>
#include <map>
#include <vector>

#include "model/sampler.hpp"

using namespace osprey::model;

TEST_CASE("greedy picks the argmax (lowest id on ties)") {
    Sampler s({});
    const std::vector<float> l = {0.1F, 3.0F, -1.0F, 3.0F};
    CHECK(s.sample(l) == 1);
    CHECK(argmax(l) == 1);
}

TEST_CASE("the same seed gives the same tokens; filters restrict the candidates") {
    const std::vector<float> l = {2.0F, 1.9F, 1.8F, 0.0F, -1.0F, -5.0F};
    SamplingParams p;
    p.temperature = 1.0F;
    p.seed = 9;
    Sampler a(p), b(p);
    std::vector<std::int32_t> sa, sb;
    for (int i = 0; i < 200; ++i) {
        sa.push_back(a.sample(l));
        sb.push_back(b.sample(l));
    }
    CHECK(sa == sb);
    std::map<std::int32_t, int> counts;
    for (auto id : sa) {
        ++counts[id];
    }
    CHECK(counts.size() >= 4);  // temperature 1 explores

    p.top_k = 2;
    Sampler k(p);
    for (int i = 0; i < 200; ++i) {
        const auto id = k.sample(l);
        CHECK((id == 0 || id == 1));
    }
    p.top_k = 0;
    p.top_p = 0.3F;  // the first token alone has p ≈ 0.36
    Sampler tp(p);
    for (int i = 0; i < 50; ++i) {
        CHECK(tp.sample(l) == 0);
    }
    p.top_p = 1.0F;
    p.min_p = 0.5F;  // keeps tokens with p ≥ 0.5·p_max: ids 0, 1, 2
    Sampler mp(p);
    for (int i = 0; i < 200; ++i) {
        CHECK(mp.sample(l) <= 2);
    }
    p.min_p = 0.0F;
    p.temperature = -1.0F;
    CHECK_THROWS(Sampler(p));
}
