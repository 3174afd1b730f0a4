// The CUDA entry points in a build without the CUDA backend: they say why, and never pretend.
#include "kernels/backends.hpp"
#include "kernels/cuda/cuda_probe.hpp"

namespace osprey::kernels {

bool cuda_compiled() {
    return false;
}

std::string cuda_unavailable_reason() {
    return std::string("this build has no CUDA backend (") + OSPREY_CUDA_OFF_REASON + ")";
}

CudaBuildInfo cuda_build_info() {
    return {};
}

std::string cuda_runtime_libraries() {
    return cuda_unavailable_reason();
}

CudaProbe probe_cuda() {
    CudaProbe probe;
    probe.reason = cuda_unavailable_reason();
    return probe;
}

CudaSmokeResult cuda_smoke_test(int /*device*/) {
    return {false, cuda_unavailable_reason()};
}

}  // namespace osprey::kernels
