// The CUDA backend module: device discovery and the smoke kernel, built for every arch in
// OSPREY_CUDA_ARCHITECTURES into libosprey_cuda.so (see cuda_module.hpp).
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <vector>

#include "kernels/cuda/cuda_module.hpp"

namespace osprey::kernels {
namespace {

std::string version_string(int packed) {  // 13000 -> "13.0"
    return std::to_string(packed / 1000) + "." + std::to_string((packed % 1000) / 10);
}

std::string describe(cudaError_t err) {
    return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
}

struct DeviceFree {
    void operator()(float* p) const { cudaFree(p); }
};
using DeviceBuffer = std::unique_ptr<float, DeviceFree>;

__global__ void axpb_kernel(const float* x, float* y, float a, float b, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = a * x[i] + b;
    }
}

// Does this binary carry SASS for the device (or PTX it can JIT)? cudaFuncGetAttributes fails with
// cudaErrorInvalidDeviceFunction / NoKernelImageForDevice when it does not.
bool kernel_runs_on_current_device() {
    cudaFuncAttributes attrs{};
    const cudaError_t err = cudaFuncGetAttributes(&attrs, axpb_kernel);
    if (err != cudaSuccess) {
        cudaGetLastError();  // clear the sticky-less error so later calls start clean
        return false;
    }
    return true;
}

std::string cublaslt_version() {
    const std::size_t lt = cublasLtGetVersion();  // major*10000 + minor*100 + patch
    return std::to_string(lt / 10000) + "." + std::to_string((lt / 100) % 100) + "." +
           std::to_string(lt % 100);
}

CudaProbe probe_devices() {
    CudaProbe probe;
    probe.compiled = true;
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) {
        probe.driver_version = version_string(driver);
    }
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // cudaErrorInsufficientDriver / NoDevice are the normal answers on a machine without a GPU.
        probe.reason = driver == 0 ? "no CUDA device (no NVIDIA driver is loaded: " +
                                         std::string(cudaGetErrorName(err)) + ")"
                                   : "no CUDA device (" + describe(err) + ")";
        cudaGetLastError();
        return probe;
    }
    if (count == 0) {
        probe.reason = "no CUDA device (the driver reports 0 devices)";
        return probe;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
            cudaGetLastError();
            continue;
        }
        CudaDevice dev;
        dev.index = i;
        dev.name = prop.name;
        dev.sm_major = prop.major;
        dev.sm_minor = prop.minor;
        dev.total_memory = prop.totalGlobalMem;
        dev.multiprocessors = prop.multiProcessorCount;
        dev.kernels_compatible = cudaSetDevice(i) == cudaSuccess && kernel_runs_on_current_device();
        probe.devices.push_back(dev);
    }
    if (probe.devices.empty()) {
        probe.reason = "no CUDA device (properties could not be read for any of " +
                       std::to_string(count) + " devices)";
    }
    return probe;
}

CudaSmokeResult smoke_test(int device) {
    const auto fail = [](const std::string& what, cudaError_t err) {
        cudaGetLastError();
        return CudaSmokeResult{false, what + ": " + describe(err)};
    };
    cudaError_t err = cudaSetDevice(device);
    if (err != cudaSuccess) {
        return fail("cudaSetDevice(" + std::to_string(device) + ")", err);
    }
    constexpr int n = 1 << 20;
    constexpr float a = 1.5F;
    constexpr float b = -0.25F;
    std::vector<float> host_x(n);
    for (int i = 0; i < n; ++i) {
        host_x[i] = static_cast<float>((i * 2654435761U) % 1000U) * 0.001F - 0.5F;
    }
    float* raw_x = nullptr;
    float* raw_y = nullptr;
    if ((err = cudaMalloc(&raw_x, n * sizeof(float))) != cudaSuccess) {
        return fail("cudaMalloc", err);
    }
    DeviceBuffer x(raw_x);
    if ((err = cudaMalloc(&raw_y, n * sizeof(float))) != cudaSuccess) {
        return fail("cudaMalloc", err);
    }
    DeviceBuffer y(raw_y);
    if ((err = cudaMemcpy(x.get(), host_x.data(), n * sizeof(float), cudaMemcpyHostToDevice)) !=
        cudaSuccess) {
        return fail("cudaMemcpy to device", err);
    }
    axpb_kernel<<<(n + 255) / 256, 256>>>(x.get(), y.get(), a, b, n);
    if ((err = cudaGetLastError()) != cudaSuccess) {
        return fail("kernel launch", err);
    }
    std::vector<float> host_y(n);
    if ((err = cudaMemcpy(host_y.data(), y.get(), n * sizeof(float), cudaMemcpyDeviceToHost)) !=
        cudaSuccess) {
        return fail("cudaMemcpy to host", err);
    }
    int mismatches = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(host_y[i] - (a * host_x[i] + b)) > 1e-6F) {
            ++mismatches;
        }
    }
    if (mismatches != 0) {
        return {false, "smoke kernel returned " + std::to_string(mismatches) + " wrong values of " +
                           std::to_string(n)};
    }
    cublasLtHandle_t handle = nullptr;
    const cublasStatus_t status = cublasLtCreate(&handle);
    if (status != CUBLAS_STATUS_SUCCESS) {
        return {false, std::string("cublasLtCreate failed: ") + cublasLtGetStatusString(status)};
    }
    cublasLtDestroy(handle);
    return {true,
            "axpb kernel over " + std::to_string(n) + " floats matched the host; cuBLASLt ok"};
}

}  // namespace
}  // namespace osprey::kernels

extern "C" __attribute__((visibility("default"))) const osprey::kernels::CudaModuleApi*
osprey_cuda_module_api() {
    using namespace osprey::kernels;
    static const CudaModuleApi api{kCudaModuleAbi, cublaslt_version, probe_devices, smoke_test};
    return &api;
}
