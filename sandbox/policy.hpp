#pragma once
// What a sandboxed command may do: the policy mode, the paths it may write or must never see, the
// mechanisms that must work (fail closed otherwise) and the resource limits.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/environment.hpp"

namespace osprey::sandbox {

enum class Mode {
    read_only,        // the whole filesystem read-only; only the private temp dir writable
    workspace_write,  // plus the workspace (its .git/ and Osprey's config stay read-only)
    full,             // no confinement (explicit user consent only); limits and timeout still apply
};

// Names as written in configs and on the command line: "read-only", "workspace-write", "full".
std::string_view to_string(Mode mode);
std::optional<Mode> parse_mode(std::string_view name);

// A protection a policy can demand with `require`: when it cannot be put in force, the run fails
// closed instead of degrading.
enum class Requirement {
    net,      // no network: a private network namespace (or Landlock TCP rules + seccomp)
    fs,       // filesystem confinement: mount namespace with read-only binds (or Landlock)
    seccomp,  // the system-call filter
    pid,      // a PID namespace (the whole tree is killed with it)
};
std::string_view to_string(Requirement requirement);
std::optional<Requirement> parse_requirement(std::string_view name);

struct Limits {
    std::chrono::milliseconds timeout{std::chrono::minutes(2)};  // wall clock; 0 = none
    std::uint64_t cpu_seconds = 600;                             // RLIMIT_CPU; 0 = unlimited
    std::uint64_t memory_bytes = std::uint64_t{8} << 30;  // RLIMIT_AS per process; 0 = unlimited
    std::uint64_t max_processes = 512;  // RLIMIT_NPROC, and a watchdog in the PID namespace
    std::uint64_t file_size_bytes = std::uint64_t{4} << 30;  // RLIMIT_FSIZE
    std::uint64_t open_files = 4096;                         // RLIMIT_NOFILE
    std::size_t output_bytes = 256 * 1024;  // kept per stream (head and tail), the rest is cut
    std::uint64_t output_stop_bytes = std::uint64_t{64}
                                      << 20;                   // stop the tree past this; 0 = never
    std::uint64_t private_tmp_bytes = std::uint64_t{2} << 30;  // size of the private /tmp
    // Process::stop() (a user's interrupt) sends SIGTERM to the command's process group (every
    // process, in a PID namespace) and waits this long before killing the tree; 0 = kill at once.
    std::chrono::milliseconds stop_grace{2000};
};

struct Policy {
    Mode mode = Mode::workspace_write;
    // Mode::full only runs when this is set: the caller records that the user consented (a model
    // asking for it is not consent). Process::start refuses full without it.
    bool full_consent = false;
    // The folder the agent works in (writable under workspace-write). Empty: the current directory.
    std::filesystem::path workspace;
    // Whose secrets to hide. Empty: $HOME of the command's environment (or of this process).
    std::filesystem::path home;
    // Secret paths the user adds to the default list (see default_hidden_paths). "~/" expands.
    std::vector<std::filesystem::path> hidden;
    // Extra writable paths (a user's permission rule, e.g. ~/.cache/ccache).
    std::vector<std::filesystem::path> writable;
    // Paths kept read-only even inside the workspace (added to .git and .osprey).
    std::vector<std::filesystem::path> read_only;
    bool network = false;  // allow network access (a user's permission rule)
    std::vector<Requirement> require;
    // Try namespaces (the strongest layers). false: Landlock + seccomp + rlimits only, as on a
    // machine without user namespaces (for such machines' users, and to test that fallback).
    bool namespaces = true;
    EnvironmentPolicy environment;
    Limits limits;

    bool demands(Requirement r) const;
};

// ~/.ssh, ~/.aws, ~/.config/gcloud, ~/.netrc, ~/.gnupg, plus a few more credential stores
// (~/.docker (credentials, rootless daemon socket), ~/.kube, ~/.git-credentials, ~/.npmrc,
// ~/.pypirc).
std::vector<std::filesystem::path> default_hidden_paths(const std::filesystem::path& home);

// Workspace-relative paths that stay read-only under workspace-write.
std::vector<std::filesystem::path> default_read_only_paths(const std::filesystem::path& workspace);

}  // namespace osprey::sandbox
