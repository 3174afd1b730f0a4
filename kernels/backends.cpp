#include "kernels/backends.hpp"

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cuda/cuda_probe.hpp"

namespace osprey::kernels {

std::vector<CompiledBackend> compiled_backends() {
    std::vector<CompiledBackend> out;
    const CpuFeatures cpu = detect_cpu_features();
    out.push_back({"cpu", {cpu.isa}, simd_summary(cpu)});
    if (cuda_compiled()) {
        const CudaBuildInfo info = cuda_build_info();
        out.push_back({"cuda", info.archs, "CUDA " + info.toolkit_version + " + cuBLASLt"});
    }
    return out;
}

}  // namespace osprey::kernels
