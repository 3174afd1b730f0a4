#include "kernels/cpu/cpu_features.hpp"

#include <fstream>
#include <thread>

namespace osprey::kernels {
namespace {

std::string read_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    const std::string key = "model name";
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                const auto start = line.find_first_not_of(' ', colon + 1);
                return start == std::string::npos ? std::string() : line.substr(start);
            }
        }
    }
    return {};
}

}  // namespace

CpuFeatures detect_cpu_features() {
    CpuFeatures f;
    f.model_name = read_model_name();
    f.logical_cores = std::thread::hardware_concurrency();
#if defined(__x86_64__)
    f.isa = "x86-64";
    __builtin_cpu_init();
    f.sse4_2 = __builtin_cpu_supports("sse4.2");
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    // f16c is not a __builtin_cpu_supports name in GCC 12: read CPUID.1:ECX bit 29 directly.
    unsigned eax = 1, ebx = 0, ecx = 0, edx = 0;
    __asm__("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
    f.f16c = (ecx >> 29) & 1U;
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512_vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512_bf16 = __builtin_cpu_supports("avx512bf16");
#elif defined(__aarch64__)
    f.isa = "aarch64";
#else
    f.isa = "unknown";
#endif
    return f;
}

std::string simd_summary(const CpuFeatures& f) {
    std::string out;
    const auto add = [&out](bool present, const char* name) {
        if (!present) {
            return;
        }
        if (!out.empty()) {
            out += ' ';
        }
        out += name;
    };
    add(f.sse4_2, "sse4.2");
    add(f.avx2, "avx2");
    add(f.fma, "fma");
    add(f.f16c, "f16c");
    add(f.avx512f, "avx512f");
    add(f.avx512bw, "avx512bw");
    add(f.avx512vl, "avx512vl");
    add(f.avx512_vnni, "avx512vnni");
    add(f.avx512_bf16, "avx512bf16");
    return out.empty() ? "baseline" : out;
}

}  // namespace osprey::kernels
