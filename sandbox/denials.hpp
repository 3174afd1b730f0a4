#pragma once
// Turning what a sandboxed command hit into explanations: what was denied, by which rule, and the
// permission rule or policy that would allow it. The command's errors are matched against the
// messages each layer produces (EROFS from the read-only binds, EACCES from Landlock, EPERM from
// seccomp, ENETUNREACH / ECONNREFUSED / resolver failures from the private network namespace).

#include <filesystem>
#include <vector>

#include "sandbox/policy.hpp"
#include "sandbox/run.hpp"

namespace osprey::sandbox {

struct DenialContext {
    Mode mode = Mode::workspace_write;
    std::filesystem::path workspace;
    std::vector<std::filesystem::path> writable;
    std::vector<std::filesystem::path> hidden;
    std::vector<std::filesystem::path> read_only;
    bool network = false;
    Limits limits;
};

// Fills result.denials (and refines result.reason to memory_cap when the command died of its
// address-space limit).
void add_denials(RunResult& result, const DenialContext& context);

}  // namespace osprey::sandbox
