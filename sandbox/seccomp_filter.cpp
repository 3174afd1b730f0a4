#include "sandbox/seccomp_filter.hpp"

#include <linux/sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace osprey::sandbox {
namespace {

struct ContextDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

}  // namespace

const std::vector<std::string>& denied_syscalls() {
    static const std::vector<std::string> names = {"ptrace",
                                                   "process_vm_readv",
                                                   "process_vm_writev",
                                                   "pidfd_getfd",
                                                   "mount",
                                                   "umount2",
                                                   "pivot_root",
                                                   "chroot",
                                                   "move_mount",
                                                   "open_tree",
                                                   "fsopen",
                                                   "fsconfig",
                                                   "fsmount",
                                                   "fspick",
                                                   "mount_setattr",
                                                   "unshare",
                                                   "setns",
                                                   "kexec_load",
                                                   "kexec_file_load",
                                                   "bpf",
                                                   "keyctl",
                                                   "add_key",
                                                   "request_key",
                                                   "perf_event_open",
                                                   "init_module",
                                                   "finit_module",
                                                   "delete_module",
                                                   "reboot",
                                                   "swapon",
                                                   "swapoff",
                                                   "acct",
                                                   "quotactl",
                                                   "syslog",
                                                   "iopl",
                                                   "ioperm",
                                                   "userfaultfd",
                                                   "open_by_handle_at",
                                                   "name_to_handle_at",
                                                   "settimeofday",
                                                   "clock_settime",
                                                   "clock_adjtime",
                                                   "adjtimex",
                                                   "io_uring_setup",
                                                   "io_uring_enter",
                                                   "io_uring_register",
                                                   "lookup_dcookie",
                                                   "nfsservctl",
                                                   "uselib",
                                                   "vhangup"};
    return names;
}

SeccompProgram build_seccomp_program(bool deny_inet_sockets) {
    SeccompProgram program;
    std::unique_ptr<void, ContextDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) {
        program.error = "seccomp_init failed";
        return program;
    }
    auto fail = [&](const std::string& what, int rc) {
        program.error = what + ": " + std::strerror(-rc);
        program.code.clear();
        return program;
    };
    const std::uint32_t deny = SCMP_ACT_ERRNO(EPERM);
    for (const auto& name : denied_syscalls()) {
        const int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {
            continue;  // not on this architecture
        }
        if (const int rc = seccomp_rule_add(ctx.get(), deny, nr, 0); rc < 0) {
            return fail("seccomp rule for " + name, rc);
        }
    }
    // Namespace creation through clone(2): one rule per flag (libseccomp compares arguments with
    // masks, a rule cannot say "any of these bits").
    for (const std::uint64_t flag :
         {std::uint64_t{CLONE_NEWNS}, std::uint64_t{CLONE_NEWUSER}, std::uint64_t{CLONE_NEWPID},
          std::uint64_t{CLONE_NEWNET}, std::uint64_t{CLONE_NEWIPC}, std::uint64_t{CLONE_NEWUTS},
          std::uint64_t{CLONE_NEWCGROUP}}) {
        if (const int rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(clone), 1,
                                            SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
            rc < 0) {
            return fail("seccomp rule for clone", rc);
        }
    }
    // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone.
    if (const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        rc < 0) {
        return fail("seccomp rule for clone3", rc);
    }
    // Typing into the controlling terminal of whoever runs the agent.
    for (const unsigned long request : {TIOCSTI, TIOCLINUX}) {
        if (const int rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(ioctl), 1,
                                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, request));
            rc < 0) {
            return fail("seccomp rule for ioctl", rc);
        }
    }
    if (deny_inet_sockets) {
        for (const scmp_datum_t family : {scmp_datum_t{AF_INET}, scmp_datum_t{AF_INET6}}) {
            if (const int rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(socket), 1,
                                                SCMP_A0(SCMP_CMP_EQ, family));
                rc < 0) {
                return fail("seccomp rule for socket", rc);
            }
        }
    }
    // Export the BPF program through a memfd (libseccomp 2.5 writes to a file descriptor).
    const int fd = memfd_create("osprey-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        program.error = std::string("memfd_create: ") + std::strerror(errno);
        return program;
    }
    if (const int rc = seccomp_export_bpf(ctx.get(), fd); rc < 0) {
        close(fd);
        return fail("seccomp_export_bpf", rc);
    }
    const off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % 8 != 0) {
        close(fd);
        program.error = "seccomp_export_bpf produced no program";
        return program;
    }
    program.code.resize(static_cast<std::size_t>(size) / 8);
    const ssize_t got = pread(fd, program.code.data(), static_cast<std::size_t>(size), 0);
    close(fd);
    if (got != size) {
        program.code.clear();
        program.error = "reading the exported seccomp program failed";
    }
    return program;
}

}  // namespace osprey::sandbox
