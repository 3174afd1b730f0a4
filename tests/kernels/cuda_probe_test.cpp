#include <catch2/catch.hpp>

#include "kernels/backends.hpp"
#include "kernels/cuda/cuda_probe.hpp"

using namespace osprey::kernels;

TEST_CASE("cuda probe never throws and explains an empty device list") {
    CudaProbe probe;
    REQUIRE_NOTHROW(probe = probe_cuda());
    CHECK(probe.compiled == cuda_compiled());
    if (probe.devices.empty()) {
        // The wording users and scripts see: "no CUDA device (...)" or "this build has no CUDA
        // backend".
        const bool explained = probe.reason.find("no CUDA device") != std::string::npos ||
                               probe.reason.find("no CUDA backend") != std::string::npos;
        CHECK(explained);
    } else {
        CHECK(probe.reason.empty());
        for (const auto& d : probe.devices) {
            CHECK_FALSE(d.name.empty());
            CHECK(d.sm_major >= 5);
            CHECK(d.total_memory > 0);
        }
    }
}

TEST_CASE("cuda smoke test fails with a reason when there is nothing to run on") {
    const CudaProbe probe = probe_cuda();
    if (!probe.devices.empty()) {
        SUCCEED("a CUDA device is present: the gpu-labelled cuda_device_check covers it");
        return;
    }
    const CudaSmokeResult result = cuda_smoke_test(0);
    CHECK_FALSE(result.ok);
    CHECK_FALSE(result.message.empty());
}
