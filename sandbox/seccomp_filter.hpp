#pragma once
// The system-call filter of confined policies, compiled with libseccomp in the parent (the child
// only loads the BPF program: no allocation after the sandbox's clone).

#include <cstdint>
#include <string>
#include <vector>

namespace osprey::sandbox {

struct SeccompProgram {
    std::vector<std::uint64_t> code;  // struct sock_filter entries (8 bytes each)
    std::string error;                // why there is no program (libseccomp failed)
    bool empty() const { return code.empty(); }
};

// Denies (EPERM) ptrace and process_vm_*, mount and the new mount API, pivot_root, chroot,
// namespace creation (unshare, setns, clone with CLONE_NEW*; clone3 answers ENOSYS so libc falls
// back to clone), kexec, bpf, keyctl, perf_event_open, module loading, reboot, swap, clock
// setting, open_by_handle_at, userfaultfd, io_uring, iopl/ioperm and terminal injection (TIOCSTI).
// `deny_inet_sockets` also denies AF_INET/AF_INET6 sockets (the network layer when no network
// namespace is available).
SeccompProgram build_seccomp_program(bool deny_inet_sockets);

// Names of the denied system calls, for explanations and `osprey sandbox check`.
const std::vector<std::string>& denied_syscalls();

}  // namespace osprey::sandbox
