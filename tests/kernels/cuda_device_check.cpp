// GPU check (ctest label gpu): runs the smoke kernel on every CUDA device and compares with the
// host. Exits 77 — reported by ctest as skipped, with the reason printed — when the build has no
// CUDA backend or the machine has no CUDA device.
#include <cstdio>

#include "kernels/backends.hpp"
#include "kernels/cuda/cuda_probe.hpp"

int main() {
    using namespace osprey::kernels;
    if (!cuda_compiled()) {
        std::printf("SKIP: needs the CUDA backend: %s\n", cuda_unavailable_reason().c_str());
        return 77;
    }
    const CudaProbe probe = probe_cuda();
    if (probe.devices.empty()) {
        std::printf("SKIP: needs a CUDA device: %s\n", probe.reason.c_str());
        return 77;
    }
    int failures = 0;
    for (const auto& d : probe.devices) {
        if (!d.kernels_compatible) {
            std::printf("FAIL cuda:%d %s sm_%d%d: this build has no code for it\n", d.index,
                        d.name.c_str(), d.sm_major, d.sm_minor);
            ++failures;
            continue;
        }
        const CudaSmokeResult r = cuda_smoke_test(d.index);
        std::printf("%s cuda:%d %s: %s\n", r.ok ? "ok" : "FAIL", d.index, d.name.c_str(),
                    r.message.c_str());
        failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
}
