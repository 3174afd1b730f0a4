#include <catch2/catch.hpp>

#include <set>

#include "kernels/backends.hpp"
#include "kernels/cpu/cpu_features.hpp"

using namespace osprey::kernels;

TEST_CASE("cpu features describe this machine consistently") {
    const CpuFeatures f = detect_cpu_features();
    CHECK(f.logical_cores >= 1);
#if defined(__x86_64__)
    CHECK(f.isa == "x86-64");
    // Every x86-64 machine Osprey targets has SSE4.2; AVX-512 subsets imply the foundation.
    CHECK(f.sse4_2);
    if (f.avx512bw || f.avx512vl || f.avx512_vnni || f.avx512_bf16) {
        CHECK(f.avx512f);
    }
    if (f.avx512f) {
        CHECK(f.avx2);
    }
#endif
}

TEST_CASE("simd summary lists exactly the features present") {
    CpuFeatures none;
    CHECK(simd_summary(none) == "baseline");
    CpuFeatures some;
    some.avx2 = true;
    some.fma = true;
    some.avx512_bf16 = true;
    CHECK(simd_summary(some) == "avx2 fma avx512bf16");
}

TEST_CASE("compiled backends: cpu first, cuda exactly when compiled") {
    const auto backends = compiled_backends();
    REQUIRE_FALSE(backends.empty());
    CHECK(backends.front().name == "cpu");
    CHECK_FALSE(backends.front().archs.empty());
    std::set<std::string> names;
    for (const auto& b : backends) {
        names.insert(b.name);
    }
    CHECK(names.size() == backends.size());
    CHECK(names.count("cuda") == (cuda_compiled() ? 1U : 0U));
    if (cuda_compiled()) {
        CHECK(cuda_unavailable_reason().empty());
        const auto& cuda = backends.back();
        REQUIRE_FALSE(cuda.archs.empty());
        for (const auto& arch : cuda.archs) {
            CHECK(arch.rfind("sm_", 0) == 0);
        }
        CHECK(cuda.detail.find("cuBLASLt") != std::string::npos);
    } else {
        CHECK(cuda_unavailable_reason().find("no CUDA backend") != std::string::npos);
    }
}
