#pragma once
// Token sampling from logits: greedy, or temperature with top-k, top-p and min-p filters, drawn
// from a seeded generator so the same seed and inputs give the same tokens.

#include <cstdint>
#include <random>
#include <span>

namespace osprey::model {

struct SamplingParams {
    float temperature = 0.0F;  // 0: greedy (argmax)
    std::int64_t top_k = 0;    // 0: off
    float top_p = 1.0F;        // 1: off
    float min_p = 0.0F;        // 0: off; keeps tokens with p ≥ min_p · p_max
    std::uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& params);
    // Throws std::invalid_argument for empty logits.
    std::int32_t sample(std::span<const float> logits);
    const SamplingParams& params() const { return params_; }

private:
    SamplingParams params_;
    std::mt19937_64 rng_;
};

// The index of the largest logit (the lowest such index on ties).
std::int32_t argmax(std::span<const float> logits);

}  // namespace osprey::model
