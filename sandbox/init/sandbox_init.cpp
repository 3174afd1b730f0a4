// The sandbox's init: the first process of the sandbox's namespaces. The parent (sandbox::Process)
// clones it into new user, mount, PID, network, IPC and UTS namespaces and execs this program from
// a memfd, with the plan on descriptor 3. It builds the filesystem view, brings up loopback,
// vforks the command (which drops capabilities, sets rlimits, no_new_privs, Landlock and seccomp,
// then execs), reaps, enforces the process cap, and when the command exits kills whatever is
// left. Killing this process (SIGKILL) makes the kernel kill every process of the namespace:
// that is how a timeout ends the whole tree, setsid-detached daemons included.
//
// A separate program (not code running after a fork of the agent) so that the agent's large,
// multi-threaded address space is never copied or shared while a command runs.

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "sandbox/init/plan.hpp"
#include "sandbox/landlock.hpp"

namespace {

using namespace osprey::sandbox;
using namespace osprey::sandbox::init;

struct Line {
    char data[600];
    std::size_t len = 0;
    Line& add(const char* s) {
        while (s != nullptr && *s != '\0' && len < sizeof data - 2) {
            data[len++] = *s++;
        }
        return *this;
    }
    Line& num(long v) {
        char tmp[24];
        int n = 0;
        const bool negative = v < 0;
        unsigned long u = negative ? static_cast<unsigned long>(-v) : static_cast<unsigned long>(v);
        do {
            tmp[n++] = static_cast<char>('0' + u % 10);
            u /= 10;
        } while (u != 0 && n < 22);
        if (negative) {
            tmp[n++] = '-';
        }
        while (n > 0 && len < sizeof data - 2) {
            data[len++] = tmp[--n];
        }
        return *this;
    }
    void send(int fd) {
        data[len++] = '\n';
        const ssize_t ignored = write(fd, data, len);
        (void)ignored;
    }
};

void report(int fd, const char* kind, const char* what, const char* path, int err) {
    Line line;
    line.add(kind).add(" ").add(what);
    if (path != nullptr) {
        line.add(" ").add(path);
    }
    if (err != 0) {
        line.add(": ").add(strerrordesc_np(err));
    }
    line.send(fd);
}

[[noreturn]] void fail(const Plan& /*plan*/, const char* what, const char* path, int err) {
    report(kStatusFd, "error", what, path, err);
    _exit(126);
}

// Returns 0 or an errno value.
int run_op(const MountOp& op, int* slots) {
    const char* path = op.path.c_str();
    const char* arg = op.arg.empty() ? nullptr : op.arg.c_str();
    switch (op.op) {
        case Op::private_root:
            return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 ? 0 : errno;
        case Op::clone_tree: {
            const int fd =
                open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
            if (fd < 0) {
                return errno;
            }
            slots[op.slot] = fd;
            return 0;
        }
        case Op::readonly_root: {
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
            return mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) == 0 ? 0 : errno;
        }
        case Op::tmpfs:
            return mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, arg) == 0 ? 0 : errno;
        case Op::mkdir:
            return (::mkdir(path, 0755) == 0 || errno == EEXIST) ? 0 : errno;
        case Op::touch: {
            const int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) {
                return errno;
            }
            close(fd);
            return 0;
        }
        case Op::attach: {
            if (slots[op.slot] < 0) {
                return EBADF;
            }
            const int rc = move_mount(slots[op.slot], "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
            close(slots[op.slot]);
            slots[op.slot] = -1;
            return rc == 0 ? 0 : errno;
        }
        case Op::readonly_bind: {
            if (mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
                return errno;
            }
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
            return mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) == 0 ? 0 : errno;
        }
        case Op::readonly: {
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_RDONLY;
            return mount_setattr(AT_FDCWD, path, 0, &attr, sizeof attr) == 0 ? 0 : errno;
        }
        case Op::hide_dir:
            return mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                         "size=4k,mode=000") == 0
                       ? 0
                       : errno;
        case Op::hide_file:
            return mount("/dev/null", path, nullptr, MS_BIND, nullptr) == 0 ? 0 : errno;
        case Op::symlink:
            return (::symlink(arg, path) == 0 || errno == EEXIST) ? 0 : errno;
        case Op::proc:
            // Read-only: a command running as the host's root must not write /proc files whose
            // only guard is their mode (sysrq-trigger, ...).
            return mount("proc", path, "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                         nullptr) == 0
                       ? 0
                       : errno;
        case Op::devpts:
            return mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
                         "newinstance,ptmxmode=0666,mode=620") == 0
                       ? 0
                       : errno;
    }
    return EINVAL;
}

const char* op_name(Op op) {
    switch (op) {
        case Op::private_root:
            return "making mounts private";
        case Op::clone_tree:
            return "cloning the mount tree of";
        case Op::readonly_root:
            return "making / read-only";
        case Op::tmpfs:
            return "mounting a tmpfs on";
        case Op::mkdir:
            return "creating the mount point";
        case Op::touch:
            return "creating the mount point";
        case Op::attach:
            return "binding";
        case Op::readonly_bind:
            return "making read-only";
        case Op::readonly:
            return "making read-only";
        case Op::hide_dir:
            return "hiding";
        case Op::hide_file:
            return "hiding";
        case Op::symlink:
            return "creating the link";
        case Op::proc:
            return "mounting a private /proc on";
        case Op::devpts:
            return "mounting a private devpts on";
    }
    return "?";
}

void bring_loopback_up() {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report(kStatusFd, "note", "loopback: socket", nullptr, errno);
        return;
    }
    ifreq req{};
    std::memcpy(req.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &req) == 0) {
        req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
        if (ioctl(fd, SIOCSIFFLAGS, &req) == 0) {
            report(kStatusFd, "prot", "loopback", nullptr, 0);
        } else {
            report(kStatusFd, "note", "loopback could not be brought up", nullptr, errno);
        }
    }
    close(fd);
}

void apply_landlock(const Plan& plan) {
    landlock::RulesetAttr attr;
    attr.handled_access_fs = plan.landlock_fs;
    attr.handled_access_net = plan.landlock_net;
    attr.scoped = plan.landlock_scoped;
    const int ruleset = static_cast<int>(
        landlock::create_ruleset(&attr, landlock::ruleset_attr_size(plan.landlock_abi), 0));
    if (ruleset < 0) {
        if (plan.landlock_fatal) {
            fail(plan, "landlock: creating the ruleset", nullptr, errno);
        }
        report(kStatusFd, "note", "landlock: creating the ruleset", nullptr, errno);
        return;
    }
    for (const LandlockRule& rule : plan.rules) {
        const int fd = open(rule.path.c_str(), O_PATH | O_CLOEXEC);
        if (fd < 0) {
            continue;  // nothing there to allow
        }
        // Rights that make no sense on a file (READ_DIR, MAKE_*) are refused there: keep the rest.
        std::uint64_t access = rule.access;
        struct stat st {};
        if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
            access &= landlock::kExecute | landlock::kWriteFile | landlock::kReadFile |
                      landlock::kTruncate | landlock::kIoctlDev;
        }
        if (landlock::add_path_rule(ruleset, access, fd) != 0) {
            report(kStatusFd, "note", "landlock: rule for", rule.path.c_str(), errno);
        }
        close(fd);
    }
    if (landlock::restrict_self(ruleset) != 0) {
        if (plan.landlock_fatal) {
            fail(plan, "landlock: restrict_self", nullptr, errno);
        }
        report(kStatusFd, "note", "landlock: restrict_self", nullptr, errno);
    } else {
        Line line;
        line.add("prot landlock ").num(plan.landlock_abi);
        line.send(kStatusFd);
    }
    close(ruleset);
}

void drop_capabilities(const Plan& plan) {
    for (int cap = 0; cap <= plan.cap_last; ++cap) {
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capset, &header, data) != 0) {
        fail(plan, "dropping capabilities", nullptr, errno);
    }
}

// What the vfork'ed command child needs without allocating (it shares init's memory).
struct Exec {
    std::vector<char*> argv;
    std::vector<char*> envp;
    sock_fprog filter{};
};

[[noreturn]] void command_main(const Plan& plan, const Exec& exec) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!plan.namespaces) {
        setsid();  // its own process group, so init can kill the group and stay alive
    }
    // Dispositions are already the defaults (init reset them); only the mask needed undoing.
    if (dup2(kStdinFd, 0) < 0 || dup2(kStdoutFd, 1) < 0 || dup2(kStderrFd, 2) < 0) {
        fail(plan, "redirecting stdio", nullptr, errno);
    }
    // Every other descriptor closes at exec; the status pipe stays until then for errors.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    if (chdir(plan.cwd.c_str()) != 0) {
        fail(plan, "changing to the working directory", plan.cwd.c_str(), errno);
    }
    for (const Limit& l : plan.limits) {
        const rlimit limit{l.value, l.value};
        if (setrlimit(static_cast<__rlimit_resource>(l.resource), &limit) != 0) {
            report(kStatusFd, "note", "setrlimit", nullptr, errno);
        }
    }
    if (plan.drop_caps) {
        drop_capabilities(plan);
    }
    if (plan.landlock_abi > 0 || !plan.seccomp.empty()) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
            fail(plan, "no_new_privs", nullptr, errno);
        }
        report(kStatusFd, "prot", "no_new_privs", nullptr, 0);
    }
    if (plan.landlock_abi > 0) {
        apply_landlock(plan);
    }
    if (!plan.seccomp.empty()) {
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &exec.filter, 0, 0) != 0) {
            if (plan.seccomp_fatal) {
                fail(plan, "seccomp: loading the filter", nullptr, errno);
            }
            report(kStatusFd, "note", "seccomp: loading the filter", nullptr, errno);
        } else {
            report(kStatusFd, "prot", "seccomp", nullptr, 0);
        }
    }
    execve(plan.exe.c_str(), exec.argv.data(), exec.envp.data());
    report(kStatusFd, "error", "exec", plan.exe.c_str(), errno);
    _exit(127);
}

// Counts the processes of the PID namespace (numeric entries of our private /proc).
long count_processes(int proc_fd) {
    if (lseek(proc_fd, 0, SEEK_SET) < 0) {
        return -1;
    }
    alignas(8) char buf[16384];
    long count = 0;
    for (;;) {
        const long n = syscall(SYS_getdents64, proc_fd, buf, sizeof buf);
        if (n <= 0) {
            return n < 0 ? -1 : count;
        }
        for (long off = 0; off < n;) {
            const auto* d = reinterpret_cast<const dirent64*>(buf + off);
            if (d->d_name[0] >= '1' && d->d_name[0] <= '9') {
                ++count;
            }
            off += d->d_reclen;
        }
    }
}

// Kills every descendant when there is no PID namespace: orphans re-parent to us (we are their
// subreaper), so kill our children, reap, and repeat until none is left.
void kill_descendants_without_namespace(pid_t command) {
    kill(-command, SIGKILL);
    for (int round = 0; round < 10000; ++round) {
        const int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char buf[4096];
            const ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            long pid = 0;
            for (ssize_t i = 0; i < n; ++i) {
                if (buf[i] >= '0' && buf[i] <= '9') {
                    pid = pid * 10 + (buf[i] - '0');
                } else if (pid > 0) {
                    kill(static_cast<pid_t>(pid), SIGKILL);
                    pid = 0;
                }
            }
            if (pid > 0) {
                kill(static_cast<pid_t>(pid), SIGKILL);
            }
        }
        int st = 0;
        const pid_t p = waitpid(-1, &st, __WALL);
        if (p < 0 && errno == ECHILD) {
            return;
        }
    }
}

[[noreturn]] void init_main(const Plan& plan) {
    // Start from default dispositions whatever the agent had.
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    prctl(PR_SET_NAME, "osprey-init", 0, 0, 0);
    int slots[kMaxSlots];
    for (int& s : slots) {
        s = -1;
    }
    int proc_fd = -1;
    for (const MountOp& op : plan.ops) {
        const int err = run_op(op, slots);
        if (err == 0) {
            if (op.op == Op::proc) {
                report(kStatusFd, "prot", "proc", nullptr, 0);
                proc_fd = open(op.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            }
            continue;
        }
        if (op.fatal) {
            fail(plan, op_name(op.op), op.path.c_str(), err);
        }
        report(kStatusFd, "note", op_name(op.op), op.path.c_str(), err);
    }
    if (plan.bring_lo_up) {
        bring_loopback_up();
    }
    if (!plan.namespaces) {
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGTERM);  // stop gracefully: SIGTERM to the tree, then kill it
    sigaddset(&waited, SIGUSR2);  // stop now
    sigprocmask(SIG_BLOCK, &waited, nullptr);

    // vfork: no copy of the page tables (the agent's address space can be large); the child only
    // makes system calls and then execs or _exits.
    Exec exec;
    for (const auto& a : plan.argv) {
        exec.argv.push_back(const_cast<char*>(a.c_str()));
    }
    exec.argv.push_back(nullptr);
    for (const auto& e : plan.env) {
        exec.envp.push_back(const_cast<char*>(e.c_str()));
    }
    exec.envp.push_back(nullptr);
    exec.filter.len = static_cast<unsigned short>(plan.seccomp.size());
    exec.filter.filter =
        reinterpret_cast<sock_filter*>(const_cast<std::uint64_t*>(plan.seccomp.data()));
    const pid_t command = vfork();
    if (command < 0) {
        fail(plan, "fork", nullptr, errno);
    }
    if (command == 0) {
        command_main(plan, exec);
    }
    close(kStdinFd);
    close(kStdoutFd);
    close(kStderrFd);

    const bool watchdog = plan.max_processes > 0 && proc_fd >= 0;
    int status = 0;
    bool stopped = false;
    long too_many = 0;
    timespec grace_end{};  // while stopping gracefully: when the tree gets killed
    for (;;) {
        bool command_done = false;
        for (;;) {
            int st = 0;
            const pid_t p = waitpid(-1, &st, WNOHANG | __WALL);
            if (p <= 0) {
                break;
            }
            if (p == command) {
                status = st;
                command_done = true;
            }
        }
        if (command_done) {
            break;
        }
        if (watchdog) {
            const long n = count_processes(proc_fd);
            if (n >= plan.max_processes) {  // at the cap, forks fail: end it
                too_many = n;
                break;
            }
        }
        timespec wait{};
        wait.tv_nsec = watchdog ? 10'000'000 : 0;
        wait.tv_sec = watchdog ? 0 : 1;
        if (stopped) {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > grace_end.tv_sec ||
                (now.tv_sec == grace_end.tv_sec && now.tv_nsec >= grace_end.tv_nsec)) {
                break;  // the grace period is over
            }
            wait.tv_sec = 0;
            wait.tv_nsec = 10'000'000;
        }
        siginfo_t info{};
        const int sig = sigtimedwait(&waited, &info, &wait);
        if (sig == SIGUSR2 || (sig == SIGTERM && (stopped || plan.stop_grace_ms <= 0))) {
            stopped = true;
            break;
        }
        if (sig == SIGTERM) {
            // Let the command clean up: SIGTERM to its process group (to everyone in a PID
            // namespace), then wait for it up to the grace period.
            stopped = true;
            if (plan.namespaces) {
                kill(-1, SIGTERM);
            } else {
                kill(-command, SIGTERM);
            }
            clock_gettime(CLOCK_MONOTONIC, &grace_end);
            grace_end.tv_sec += plan.stop_grace_ms / 1000;
            grace_end.tv_nsec += (plan.stop_grace_ms % 1000) * 1'000'000;
            if (grace_end.tv_nsec >= 1'000'000'000) {
                grace_end.tv_sec += 1;
                grace_end.tv_nsec -= 1'000'000'000;
            }
        }
    }
    // Whatever is left of the tree goes with the command.
    if (plan.namespaces) {
        kill(-1, SIGKILL);  // in a PID namespace: everyone but us
    } else {
        kill_descendants_without_namespace(command);
    }
    Line line;
    if (too_many > 0) {
        line.add("pids ").num(too_many);
    } else if (stopped) {
        line.add("stopped");
    } else if (WIFEXITED(status)) {
        line.add("exit ").num(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        line.add("signal ").num(WTERMSIG(status));
    } else {
        line.add("exit ").num(255);
    }
    line.send(kStatusFd);
    _exit(0);
}

}  // namespace

int main() {
    // Everything but our fixed descriptors goes.
    syscall(SYS_close_range, 8U, ~0U, 0U);
    struct stat st {};
    if (fstat(kPlanFd, &st) != 0 || st.st_size <= 0) {
        report(kStatusFd, "error", "reading the sandbox plan", nullptr, errno);
        return 126;
    }
    std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
    if (pread(kPlanFd, bytes.data(), bytes.size(), 0) != st.st_size) {
        report(kStatusFd, "error", "reading the sandbox plan", nullptr, errno);
        return 126;
    }
    close(kPlanFd);
    const auto plan = deserialize(bytes);
    if (!plan) {
        report(kStatusFd, "error", "the sandbox plan is malformed", nullptr, 0);
        return 126;
    }
    init_main(*plan);
}
