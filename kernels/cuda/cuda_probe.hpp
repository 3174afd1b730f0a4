#pragma once
// What the CUDA backend can see on this machine. Plain C++ (no CUDA headers), so every layer can
// ask; in a build without CUDA the same calls answer "not compiled" with the reason.

#include <cstddef>
#include <string>
#include <vector>

namespace osprey::kernels {

struct CudaBuildInfo {
    std::vector<std::string> archs;  // "sm_80", "sm_90a": what the kernels were compiled for
    std::string toolkit_version;     // e.g. "13.0"
};

struct CudaDevice {
    int index = 0;
    std::string name;
    int sm_major = 0;
    int sm_minor = 0;
    std::size_t total_memory = 0;
    int multiprocessors = 0;
    bool kernels_compatible = false;  // this binary carries code that runs on it
};

struct CudaProbe {
    bool compiled = false;  // CUDA backend built in
    std::string reason;     // why no device is usable (empty when devices is non-empty)
    std::string driver_version;
    std::vector<CudaDevice> devices;
};

// Only meaningful when cuda_compiled() (kernels/backends.hpp) is true. Loads nothing.
CudaBuildInfo cuda_build_info();

// The CUDA libraries the backend runs on, e.g. "cuBLASLt 13.1.0", or why they could not be loaded.
// Loads the CUDA backend module (calls below do too; the first costs ~0.3 s).
std::string cuda_runtime_libraries();

// Asks the driver for devices. Never throws: a machine without a GPU or driver gives an empty list
// and a reason such as "no CUDA device (CUDA driver not installed: cudaErrorInsufficientDriver)".
CudaProbe probe_cuda();

struct CudaSmokeResult {
    bool ok = false;
    std::string message;  // what ran and what came back, or the CUDA error
};

// Launches a small kernel (y = a*x + b over 1M floats) and a cuBLASLt handle on `device`, checks
// the result against the host. The check a user runs to see that the backend works on their GPU.
CudaSmokeResult cuda_smoke_test(int device);

}  // namespace osprey::kernels
