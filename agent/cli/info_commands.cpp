#include "agent/cli/info_commands.hpp"

#include <nlohmann/json.hpp>

#include "agent/build_info.hpp"
#include "kernels/backends.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cuda/cuda_probe.hpp"
#include "model/compute_backend.hpp"

namespace osprey::agent::cli {
namespace {

std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : sep) + item;
    }
    return out;
}

std::string gib(std::size_t bytes) {
    const double value = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", value);
    return buf;
}

nlohmann::json cpu_json(const kernels::CpuFeatures& cpu) {
    return {{"isa", cpu.isa},
            {"model", cpu.model_name},
            {"logical_cores", cpu.logical_cores},
            {"simd", kernels::simd_summary(cpu)}};
}

int run_devices(const Args& args, Io& io) {
    const std::string wanted = args.value("--backend").value_or("all");
    if (wanted != "all" && wanted != "cpu" && wanted != "cuda") {
        throw UsageError("unknown backend '" + wanted +
                         "' for --backend: expected all, cpu or cuda");
    }
    const bool json = args.has("--json");
    const bool show_cpu = wanted != "cuda";
    const bool show_cuda = wanted != "cpu";
    const kernels::CpuFeatures cpu = kernels::detect_cpu_features();
    kernels::CudaProbe probe;
    if (show_cuda) {
        probe = kernels::probe_cuda();
    }
    // Asking for cuda specifically and getting none is a failure; listing everything is not.
    const bool cuda_missing = show_cuda && probe.devices.empty();
    const int status = (wanted == "cuda" && cuda_missing) ? kExitFailure : kExitOk;

    if (json) {
        nlohmann::json out = nlohmann::json::object();
        if (show_cpu) {
            out["cpu"] = cpu_json(cpu);
        }
        if (show_cuda) {
            nlohmann::json devices = nlohmann::json::array();
            for (const auto& d : probe.devices) {
                devices.push_back({{"index", d.index},
                                   {"name", d.name},
                                   {"sm", std::to_string(d.sm_major) + std::to_string(d.sm_minor)},
                                   {"memory_bytes", d.total_memory},
                                   {"multiprocessors", d.multiprocessors},
                                   {"supported", d.kernels_compatible}});
            }
            out["cuda"] = {{"compiled", probe.compiled},
                           {"driver", probe.driver_version},
                           {"libraries", kernels::cuda_runtime_libraries()},
                           {"devices", devices}};
            if (!probe.reason.empty()) {
                out["cuda"]["reason"] = probe.reason;
            }
        }
        io.out << out.dump(2) << "\n";
        return status;
    }

    if (show_cpu) {
        io.out << "cpu: " << (cpu.model_name.empty() ? cpu.isa : cpu.model_name) << ", "
               << cpu.logical_cores << " logical cores, " << kernels::simd_summary(cpu) << "\n";
    }
    if (show_cuda) {
        if (cuda_missing) {
            (status == kExitOk ? io.out : io.err) << "cuda: " << probe.reason << "\n";
        }
        if (!probe.devices.empty()) {
            io.out << "cuda: driver " << probe.driver_version << ", "
                   << kernels::cuda_runtime_libraries() << "\n";
        }
        for (const auto& d : probe.devices) {
            io.out << "cuda:" << d.index << ": " << d.name << ", sm_" << d.sm_major << d.sm_minor
                   << ", " << gib(d.total_memory) << ", " << d.multiprocessors << " SMs"
                   << (d.kernels_compatible ? "" : " (not supported by this build's kernels)")
                   << "\n";
        }
    }
    return status;
}

int run_smoke(const Args& args, Io& io) {
    const std::string request = args.value("--backend").value_or("cuda");
    model::BackendSelection selection;
    try {
        selection = model::select_backend(model::parse_backend_request(request));
    } catch (const model::BackendRequestError& e) {
        throw UsageError(e.what());
    } catch (const model::BackendUnavailable& e) {
        io.err << "osprey: " << e.what() << "\n";
        return kExitFailure;
    }
    if (selection.kind != model::BackendKind::cuda) {
        io.out << selection.description << ": nothing to check on the cpu backend"
               << (selection.note.empty() ? "" : " (" + selection.note + ")") << "\n";
        return kExitOk;
    }
    const kernels::CudaSmokeResult result = kernels::cuda_smoke_test(selection.device);
    (result.ok ? io.out : io.err) << selection.description << ": " << result.message << "\n";
    return result.ok ? kExitOk : kExitFailure;
}

}  // namespace

int print_version(Io& io, bool json) {
    const BuildInfo& info = build_info();
    const auto backends = kernels::compiled_backends();
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& b : backends) {
            list.push_back({{"name", b.name}, {"archs", b.archs}, {"detail", b.detail}});
        }
        io.out << nlohmann::json{{"version", info.version},
                                 {"commit", info.git_commit},
                                 {"build_type", info.build_type},
                                 {"compiler", info.compiler},
                                 {"backends", list}}
                      .dump(2)
               << "\n";
        return kExitOk;
    }
    io.out << "osprey " << info.version << " (commit " << info.git_commit << ", " << info.build_type
           << ", " << info.compiler << ")\n";
    std::vector<std::string> parts;
    for (const auto& b : backends) {
        parts.push_back(b.name + " (" + join(b.archs, " ") + "; " + b.detail + ")");
    }
    io.out << "backends: " << join(parts, ", ") << "\n";
    if (!kernels::cuda_compiled()) {
        io.out << "cuda: not compiled: " << kernels::cuda_unavailable_reason() << "\n";
    }
    return kExitOk;
}

Command version_command() {
    Command c;
    c.name = "version";
    c.summary = "show version, git commit and compiled backends (same as --version)";
    c.options = {{"--json", "", "print as JSON"}};
    c.run = [](const Args& args, Io& io) { return print_version(io, args.has("--json")); };
    return c;
}

Command devices_command() {
    Command list;
    list.name = "list";
    list.summary = "list the compute devices each compiled backend can use";
    list.description =
        "With --backend cuda, exits 1 and says \"no CUDA device\" (with the driver's reason) when\n"
        "this machine has no usable GPU or the build has no CUDA backend.";
    list.options = {{"--backend", "NAME", "all (default), cpu or cuda"},
                    {"--json", "", "print as JSON"}};
    list.run = run_devices;

    Command smoke;
    smoke.name = "check";
    smoke.summary = "run a small kernel on the selected backend and compare it with the host";
    smoke.options = {{"--backend", "NAME", "cuda (default), cuda:N, cpu or auto"}};
    smoke.run = run_smoke;

    Command c;
    c.name = "devices";
    c.summary = "list compute devices (cpu, cuda) or check one works";
    c.options = list.options;
    c.run = run_devices;  // `osprey devices` = `osprey devices list`
    c.subcommands = {list, smoke};
    return c;
}

}  // namespace osprey::agent::cli
