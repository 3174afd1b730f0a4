#include "model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace osprey::model {

std::int32_t argmax(std::span<const float> logits) {
    if (logits.empty()) {
        throw std::invalid_argument("argmax of empty logits");
    }
    std::size_t best = 0;
    for (std::size_t i = 1; i < logits.size(); ++i) {
        if (logits[i] > logits[best]) {
            best = i;
        }
    }
    return static_cast<std::int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
    if (params.temperature < 0.0F || !(params.top_p > 0.0F && params.top_p <= 1.0F) ||
        params.min_p < 0.0F || params.min_p > 1.0F || params.top_k < 0) {
        throw std::invalid_argument(
            "sampling parameters out of range: temperature ≥ 0, 0 < top_p ≤ 1, 0 ≤ min_p ≤ 1, "
            "top_k ≥ 0");
    }
}

std::int32_t Sampler::sample(std::span<const float> logits) {
    if (logits.empty()) {
        throw std::invalid_argument("cannot sample from empty logits");
    }
    if (params_.temperature == 0.0F) {
        return argmax(logits);
    }
    // Candidates sorted by logit (descending; ties by id) so every filter is a prefix.
    std::vector<std::int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::size_t keep = ids.size();
    if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < keep) {
        keep = static_cast<std::size_t>(params_.top_k);
    }
    auto by_logit = [&](std::int32_t a, std::int32_t b) {
        const float la = logits[static_cast<std::size_t>(a)];
        const float lb = logits[static_cast<std::size_t>(b)];
        return la > lb || (la == lb && a < b);
    };
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(),
                      by_logit);
    ids.resize(keep);
    const double inv_t = 1.0 / params_.temperature;
    const double top = logits[static_cast<std::size_t>(ids[0])];
    std::vector<double> p(keep);
    double sum = 0.0;
    for (std::size_t i = 0; i < keep; ++i) {
        p[i] = std::exp((logits[static_cast<std::size_t>(ids[i])] - top) * inv_t);
        sum += p[i];
    }
    for (auto& v : p) {
        v /= sum;
    }
    std::size_t n = keep;
    if (params_.top_p < 1.0F) {
        double cum = 0.0;
        for (std::size_t i = 0; i < keep; ++i) {
            cum += p[i];
            if (cum >= params_.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (params_.min_p > 0.0F) {
        const double floor = params_.min_p * p[0];
        std::size_t m = 1;
        while (m < n && p[m] >= floor) {
            ++m;
        }
        n = m;
    }
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        total += p[i];
    }
    std::uniform_real_distribution<double> u(0.0, total);
    const double r = u(rng_);
    double cum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        cum += p[i];
        if (r < cum) {
            return ids[i];
        }
    }
    return ids[n - 1];
}

}  // namespace osprey::model
