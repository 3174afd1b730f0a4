#pragma once
// Facts fixed when the binary was built: version, git commit, build type, compiler.

#include <string_view>

namespace osprey::agent {

struct BuildInfo {
    std::string_view version;     // "0.1.0"
    std::string_view git_commit;  // 12 hex digits, "-dirty" appended for uncommitted changes;
                                  // "unknown" outside a git checkout
    std::string_view build_type;  // "Release", "Debug", ...
    std::string_view compiler;    // "GNU 12.2.0"
};

const BuildInfo& build_info();

}  // namespace osprey::agent
