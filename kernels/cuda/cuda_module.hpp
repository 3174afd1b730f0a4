#pragma once
// The boundary between the host binary and the CUDA backend module (libosprey_cuda.so). The module
// is loaded with dlopen only when a CUDA backend is asked for: linking cuBLASLt into the executable
// would add ~0.3 s to every `osprey` start and stop the binary from running where CUDA is not
// installed. Both sides are built from this tree by the same compiler, so C++ types may cross it.

#include "kernels/cuda/cuda_probe.hpp"

namespace osprey::kernels {

struct CudaModuleApi {
    int abi_version;
    std::string (*cublaslt_version)();
    CudaProbe (*probe)();
    CudaSmokeResult (*smoke_test)(int device);
};

inline constexpr int kCudaModuleAbi = 1;
inline constexpr const char* kCudaModuleEntry = "osprey_cuda_module_api";

}  // namespace osprey::kernels

extern "C" const osprey::kernels::CudaModuleApi* osprey_cuda_module_api();
