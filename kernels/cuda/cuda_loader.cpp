// Host side of the CUDA backend in CUDA builds: finds and dlopens libosprey_cuda.so on first use.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "kernels/backends.hpp"
#include "kernels/cuda/cuda_module.hpp"

namespace osprey::kernels {
namespace {

struct LoadedModule {
    const CudaModuleApi* api = nullptr;
    std::string error;  // why api is null
};

std::filesystem::path executable_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : exe.parent_path();
}

// $OSPREY_CUDA_MODULE, then next to the executable (bin/../lib, bin/), then where the build put it.
std::vector<std::filesystem::path> candidates() {
    std::vector<std::filesystem::path> out;
    if (const char* env = std::getenv("OSPREY_CUDA_MODULE"); env != nullptr && *env != '\0') {
        out.emplace_back(env);
        return out;
    }
    const auto dir = executable_dir();
    if (!dir.empty()) {
        out.push_back(dir.parent_path() / "lib" / OSPREY_CUDA_MODULE_NAME);
        out.push_back(dir / OSPREY_CUDA_MODULE_NAME);
    }
    out.emplace_back(OSPREY_CUDA_MODULE_BUILD_PATH);
    return out;
}

LoadedModule load() {
    std::string tried;
    for (const auto& path : candidates()) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            tried += (tried.empty() ? "" : ", ") + path.string();
            continue;
        }
        // Never dlclose'd: CUDA's runtime does not support being unloaded.
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            return {nullptr, std::string("cannot load the CUDA backend: ") + dlerror()};
        }
        using Entry = const CudaModuleApi* (*)();
        auto entry = reinterpret_cast<Entry>(dlsym(handle, kCudaModuleEntry));
        if (entry == nullptr) {
            return {nullptr, path.string() + " is not an Osprey CUDA module"};
        }
        const CudaModuleApi* api = entry();
        if (api == nullptr || api->abi_version != kCudaModuleAbi) {
            return {nullptr, path.string() + " is from a different Osprey build"};
        }
        return {api, {}};
    }
    return {nullptr, "the CUDA backend module " + std::string(OSPREY_CUDA_MODULE_NAME) +
                         " was not found (looked at " + tried + "; set OSPREY_CUDA_MODULE)"};
}

const LoadedModule& module() {
    static const LoadedModule loaded = load();  // once per process, immutable afterwards
    return loaded;
}

}  // namespace

bool cuda_compiled() {
    return true;
}

std::string cuda_unavailable_reason() {
    return {};
}

CudaBuildInfo cuda_build_info() {
    CudaBuildInfo info;
    std::istringstream archs(OSPREY_CUDA_ARCHS);
    for (std::string arch; archs >> arch;) {
        info.archs.push_back(arch);
    }
    info.toolkit_version = OSPREY_CUDA_TOOLKIT_VERSION;
    return info;
}

std::string cuda_runtime_libraries() {
    const LoadedModule& m = module();
    return m.api == nullptr ? m.error : "cuBLASLt " + m.api->cublaslt_version();
}

CudaProbe probe_cuda() {
    const LoadedModule& m = module();
    if (m.api == nullptr) {
        CudaProbe probe;
        probe.compiled = true;
        probe.reason = "no CUDA device (" + m.error + ")";
        return probe;
    }
    return m.api->probe();
}

CudaSmokeResult cuda_smoke_test(int device) {
    const LoadedModule& m = module();
    if (m.api == nullptr) {
        return {false, m.error};
    }
    return m.api->smoke_test(device);
}

}  // namespace osprey::kernels
