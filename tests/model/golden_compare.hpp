#pragma once
// Per-position comparison of logits with golden data: relative L2 error per row and argmax.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace osprey::test {

struct RowStats {
    std::vector<double> rel;     // per row ||a-b|| / ||b||
    std::vector<bool> same_top;  // argmax equal
    double max_rel() const { return rel.empty() ? 0.0 : *std::max_element(rel.begin(), rel.end()); }
    double quantile(double q) const {
        std::vector<double> v = rel;
        std::sort(v.begin(), v.end());
        if (v.empty()) {
            return 0.0;
        }
        const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    }
    double agreement() const {
        return same_top.empty()
                   ? 1.0
                   : static_cast<double>(std::count(same_top.begin(), same_top.end(), true)) /
                         static_cast<double>(same_top.size());
    }
};

inline RowStats compare_rows(const float* a, const float* b, std::int64_t rows, std::int64_t n) {
    RowStats s;
    for (std::int64_t r = 0; r < rows; ++r) {
        double num = 0.0;
        double den = 0.0;
        std::int64_t ia = 0;
        std::int64_t ib = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const double x = a[r * n + i];
            const double y = b[r * n + i];
            num += (x - y) * (x - y);
            den += y * y;
            if (x > a[r * n + ia]) {
                ia = i;
            }
            if (y > b[r * n + ib]) {
                ib = i;
            }
        }
        s.rel.push_back(std::sqrt(num / std::max(den, 1e-30)));
        s.same_top.push_back(ia == ib);
    }
    return s;
}

}  // namespace osprey::test
