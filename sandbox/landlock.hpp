#pragma once
// Landlock (Linux security module for unprivileged access control): the constants newer than
// Debian 12's kernel headers, raw system-call wrappers, and the ABI probe.

#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace osprey::sandbox::landlock {

// Filesystem rights by ABI version (ABI 1: bits 0-12; 2: REFER; 3: TRUNCATE; 5: IOCTL_DEV).
inline constexpr std::uint64_t kExecute = 1ULL << 0;
inline constexpr std::uint64_t kWriteFile = 1ULL << 1;
inline constexpr std::uint64_t kReadFile = 1ULL << 2;
inline constexpr std::uint64_t kReadDir = 1ULL << 3;
inline constexpr std::uint64_t kRefer = 1ULL << 13;
inline constexpr std::uint64_t kTruncate = 1ULL << 14;
inline constexpr std::uint64_t kIoctlDev = 1ULL << 15;
// Network rights (ABI 4) and scopes (ABI 6).
inline constexpr std::uint64_t kBindTcp = 1ULL << 0;
inline constexpr std::uint64_t kConnectTcp = 1ULL << 1;
inline constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
inline constexpr std::uint64_t kScopeSignal = 1ULL << 1;

// The layout of struct landlock_ruleset_attr at ABI 6 (older kernels take a prefix of it).
struct RulesetAttr {
    std::uint64_t handled_access_fs = 0;
    std::uint64_t handled_access_net = 0;
    std::uint64_t scoped = 0;
};

inline std::uint64_t fs_rights(int abi) {
    std::uint64_t all = (1ULL << 13) - 1;
    if (abi >= 2) {
        all |= kRefer;
    }
    if (abi >= 3) {
        all |= kTruncate;
    }
    if (abi >= 5) {
        all |= kIoctlDev;
    }
    return all;
}

inline std::size_t ruleset_attr_size(int abi) {
    return abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
}

inline long create_ruleset(const RulesetAttr* attr, std::size_t size, std::uint32_t flags) {
    return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}
inline long add_path_rule(int ruleset_fd, std::uint64_t allowed, int parent_fd) {
    struct {
        std::uint64_t allowed_access;
        std::int32_t parent_fd;
    } __attribute__((packed)) attr{allowed, parent_fd};
    return syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
}
inline long restrict_self(int ruleset_fd) {
    return syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
}

// The highest ABI the running kernel supports; 0 when Landlock is missing or disabled.
inline int abi_version() {
    const long v = create_ruleset(nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v > 0 ? static_cast<int>(v) : 0;
}

}  // namespace osprey::sandbox::landlock
