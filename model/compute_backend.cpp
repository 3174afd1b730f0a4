#include "model/compute_backend.hpp"

#include <charconv>

#include "kernels/backends.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cuda/cuda_probe.hpp"

namespace osprey::model {
namespace {

std::string describe_cpu() {
    const kernels::CpuFeatures cpu = kernels::detect_cpu_features();
    return "cpu (" + cpu.isa + "; " + kernels::simd_summary(cpu) + ")";
}

std::string describe_device(const kernels::CudaDevice& dev) {
    return "cuda:" + std::to_string(dev.index) + " (" + dev.name + ", sm_" +
           std::to_string(dev.sm_major) + std::to_string(dev.sm_minor) + ")";
}

std::string built_archs() {
    std::string archs;
    for (const auto& arch : kernels::cuda_build_info().archs) {
        archs += (archs.empty() ? "" : " ") + arch;
    }
    return archs;
}

}  // namespace

std::string_view to_string(BackendKind kind) {
    return kind == BackendKind::cuda ? "cuda" : "cpu";
}

BackendRequest parse_backend_request(std::string_view text) {
    BackendRequest req;
    if (text == "auto" || text.empty()) {
        return req;
    }
    if (text == "cpu") {
        req.kind = BackendRequest::Kind::cpu;
        return req;
    }
    if (text == "cuda") {
        req.kind = BackendRequest::Kind::cuda;
        return req;
    }
    constexpr std::string_view prefix = "cuda:";
    if (text.substr(0, prefix.size()) == prefix) {
        const std::string_view digits = text.substr(prefix.size());
        int index = -1;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
        if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
            index >= 0) {
            req.kind = BackendRequest::Kind::cuda;
            req.device = index;
            return req;
        }
    }
    throw BackendRequestError("unknown backend '" + std::string(text) +
                              "': expected auto, cpu, cuda or cuda:N");
}

BackendSelection select_backend(const BackendRequest& request) {
    if (request.kind == BackendRequest::Kind::cpu) {
        return {BackendKind::cpu, 0, describe_cpu(), {}};
    }
    const kernels::CudaProbe probe = kernels::probe_cuda();
    const auto usable = [&](const kernels::CudaDevice& d) {
        return d.kernels_compatible && (request.device < 0 || d.index == request.device);
    };
    for (const auto& dev : probe.devices) {
        if (usable(dev)) {
            return {BackendKind::cuda, dev.index, describe_device(dev), {}};
        }
    }

    std::string why;
    if (probe.devices.empty()) {
        why = probe.reason;
    } else if (request.device >= 0) {
        bool exists = false;
        for (const auto& dev : probe.devices) {
            exists = exists || dev.index == request.device;
        }
        why = exists ? "CUDA device " + std::to_string(request.device) +
                           " is not supported by this build's kernels (built for " + built_archs() +
                           ")"
                     : "CUDA device " + std::to_string(request.device) + " does not exist (" +
                           std::to_string(probe.devices.size()) + " found)";
    } else {
        why = "no CUDA device this build's kernels support (" +
              std::to_string(probe.devices.size()) + " found)";
    }
    if (request.kind == BackendRequest::Kind::automatic) {
        return {BackendKind::cpu, 0, describe_cpu(), "using cpu: " + why};
    }
    throw BackendUnavailable(why);
}

}  // namespace osprey::model
