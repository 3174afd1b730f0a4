#pragma once
// The capability probe behind `osprey sandbox check`: which mechanisms work on this machine (user
// namespaces may be disabled in containers, Landlock may be missing) and what protection each
// policy actually gets, found by running a real sandboxed command.

#include <string>
#include <vector>

#include "sandbox/run.hpp"

namespace osprey::sandbox {

struct Mechanism {
    std::string name;  // "user namespace", "seccomp", "landlock", ...
    bool available = false;
    std::string detail;  // version, or why it is missing
};

struct ProbeReport {
    std::string kernel;  // uname release
    std::vector<Mechanism> mechanisms;
    Protection workspace_write;  // what a workspace-write run got
    std::vector<std::string> degraded;
    std::string error;  // the probe command could not run at all
    // What a confined run can promise: "full" (every layer), "partial" (say which are missing).
    bool fully_protected() const;
};

ProbeReport probe();

// The human-readable report printed by `osprey sandbox check` and at the start of the escape suite.
std::string format_report(const ProbeReport& report);

}  // namespace osprey::sandbox
