#pragma once
// Which compute backends this binary was built with (not which devices exist: see
// cuda/cuda_probe.hpp).

#include <string>
#include <vector>

namespace osprey::kernels {

struct CompiledBackend {
    std::string name;                // "cpu" or "cuda"
    std::vector<std::string> archs;  // cpu: ISA of this machine; cuda: "sm_80", "sm_90a", ...
    std::string detail;              // toolkit / library versions, for --version
};

// Every backend compiled in, cpu first. Never touches a GPU.
std::vector<CompiledBackend> compiled_backends();

// True when the CUDA backend was compiled in; otherwise cuda_unavailable_reason() says why not.
bool cuda_compiled();
std::string cuda_unavailable_reason();

}  // namespace osprey::kernels
