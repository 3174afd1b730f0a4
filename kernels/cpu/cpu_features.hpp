#pragma once
// Runtime detection of the host CPU's SIMD features: kernels dispatch on these, not on build flags,
// so one binary runs on every x86-64 machine and uses AVX-512 where it exists.

#include <string>

namespace osprey::kernels {

struct CpuFeatures {
    std::string isa;  // "x86-64", "aarch64", ...
    std::string model_name;
    unsigned logical_cores = 0;
    bool sse4_2 = false;
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512_vnni = false;
    bool avx512_bf16 = false;
};

CpuFeatures detect_cpu_features();

// "avx2 fma f16c avx512f ..." (the features present), or "baseline" when none of them are.
std::string simd_summary(const CpuFeatures& features);

}  // namespace osprey::kernels
