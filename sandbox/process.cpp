// Starting and supervising a sandboxed command tree.
//
// The parent prepares everything (strings, the mount plan, the compiled seccomp program) and then
// clones a child into new user, mount, PID, network, IPC and UTS namespaces. That child becomes
// the namespace's init: it builds the filesystem view, forks the command, reaps, enforces the
// process cap, and when the command exits kills whatever is left. Killing init (SIGKILL) makes
// the kernel kill every process of the namespace, which is how a timeout ends the whole tree,
// setsid-detached daemons included.
//
// The child runs after a raw clone of a possibly multi-threaded process: it must not allocate or
// take locks, so it only makes system calls on data the parent prepared.

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
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
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>

#include "sandbox/capture.hpp"
#include "sandbox/denials.hpp"
#include "sandbox/landlock.hpp"
#include "sandbox/run.hpp"
#include "sandbox/seccomp_filter.hpp"

extern char** environ;

namespace osprey::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------------------
// The plan the child follows (plain data; every pointer refers to storage owned by the parent).

enum class Op {
    private_root,   // make every mount private (nothing propagates back to the host)
    clone_tree,     // slot = open_tree(path, clone, recursive): taken before / turns read-only
    readonly_root,  // mount_setattr(/, recursive, read-only + nosuid)
    tmpfs,          // a fresh tmpfs at path (arg: options)
    mkdir,          // mkdir path (exists: fine)
    touch,          // create an empty file at path (a bind target)
    attach,         // move_mount(slot) onto path
    readonly_bind,  // bind path onto itself, read-only (recursive)
    readonly,       // mount_setattr(path, read-only), not recursive
    hide_dir,       // an empty read-only tmpfs over path
    hide_file,      // /dev/null bound over path
    symlink,        // symlink arg -> path
    proc,           // a fresh /proc for the PID namespace
    devpts,         // a private devpts instance at path
};

struct MountOp {
    Op op;
    const char* path = nullptr;
    const char* arg = nullptr;
    int slot = -1;
    bool fatal = true;  // a failure aborts the run (e.g. a secret that cannot be hidden)
};

struct LandlockRule {
    const char* path;
    std::uint64_t access;
};

struct Limit {
    int resource;
    rlim_t value;
};

constexpr int kMaxSlots = 32;

struct ChildPlan {
    bool namespaces = false;
    int sync_fd = -1;
    int status_fd = -1;
    int stdin_fd = -1;
    int out_fd = -1;
    int err_fd = -1;
    const char* exe = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    const char* cwd = nullptr;
    const MountOp* ops = nullptr;
    std::size_t n_ops = 0;
    int landlock_abi = 0;
    bool landlock_fatal = false;
    landlock::RulesetAttr landlock_attr;
    const LandlockRule* rules = nullptr;
    std::size_t n_rules = 0;
    sock_fprog seccomp{};
    bool seccomp_fatal = false;
    Limit limits[6]{};
    std::size_t n_limits = 0;
    long max_processes = 0;
    bool bring_lo_up = false;
    bool drop_caps = false;
    int cap_last = 40;
};

// ------------------------------------------------------------------------------------------------
// Child side: async-signal-safe only.

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

[[noreturn]] void fail(const ChildPlan& plan, const char* what, const char* path, int err) {
    report(plan.status_fd, "error", what, path, err);
    _exit(126);
}

// Returns 0 or an errno value.
int run_op(const MountOp& op, int* slots) {
    switch (op.op) {
        case Op::private_root:
            return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 ? 0 : errno;
        case Op::clone_tree: {
            const int fd =
                open_tree(AT_FDCWD, op.path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
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
            return mount("tmpfs", op.path, "tmpfs", MS_NOSUID | MS_NODEV, op.arg) == 0 ? 0 : errno;
        case Op::mkdir:
            return (::mkdir(op.path, 0755) == 0 || errno == EEXIST) ? 0 : errno;
        case Op::touch: {
            const int fd = open(op.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
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
            const int rc =
                move_mount(slots[op.slot], "", AT_FDCWD, op.path, MOVE_MOUNT_F_EMPTY_PATH);
            close(slots[op.slot]);
            slots[op.slot] = -1;
            return rc == 0 ? 0 : errno;
        }
        case Op::readonly_bind: {
            if (mount(op.path, op.path, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
                return errno;
            }
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
            return mount_setattr(AT_FDCWD, op.path, AT_RECURSIVE, &attr, sizeof attr) == 0 ? 0
                                                                                           : errno;
        }
        case Op::readonly: {
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_RDONLY;
            return mount_setattr(AT_FDCWD, op.path, 0, &attr, sizeof attr) == 0 ? 0 : errno;
        }
        case Op::hide_dir:
            return mount("tmpfs", op.path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                         "size=4k,mode=000") == 0
                       ? 0
                       : errno;
        case Op::hide_file:
            return mount("/dev/null", op.path, nullptr, MS_BIND, nullptr) == 0 ? 0 : errno;
        case Op::symlink:
            return (::symlink(op.arg, op.path) == 0 || errno == EEXIST) ? 0 : errno;
        case Op::proc:
            return mount("proc", op.path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0
                       ? 0
                       : errno;
        case Op::devpts:
            return mount("devpts", op.path, "devpts", MS_NOSUID | MS_NOEXEC,
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

void bring_loopback_up(const ChildPlan& plan) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report(plan.status_fd, "note", "loopback: socket", nullptr, errno);
        return;
    }
    ifreq req{};
    std::memcpy(req.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &req) == 0) {
        req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
        if (ioctl(fd, SIOCSIFFLAGS, &req) == 0) {
            report(plan.status_fd, "prot", "loopback", nullptr, 0);
        } else {
            report(plan.status_fd, "note", "loopback could not be brought up", nullptr, errno);
        }
    }
    close(fd);
}

void apply_landlock(const ChildPlan& plan) {
    const int ruleset = static_cast<int>(landlock::create_ruleset(
        &plan.landlock_attr, landlock::ruleset_attr_size(plan.landlock_abi), 0));
    if (ruleset < 0) {
        if (plan.landlock_fatal) {
            fail(plan, "landlock: creating the ruleset", nullptr, errno);
        }
        report(plan.status_fd, "note", "landlock: creating the ruleset", nullptr, errno);
        return;
    }
    for (std::size_t i = 0; i < plan.n_rules; ++i) {
        const int fd = open(plan.rules[i].path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
            continue;  // nothing there to allow
        }
        // Rights that make no sense on a file (READ_DIR, MAKE_*) are refused there: keep the rest.
        std::uint64_t access = plan.rules[i].access;
        struct stat st {};
        if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
            access &= landlock::kExecute | landlock::kWriteFile | landlock::kReadFile |
                      landlock::kTruncate | landlock::kIoctlDev;
        }
        if (landlock::add_path_rule(ruleset, access, fd) != 0) {
            report(plan.status_fd, "note", "landlock: rule for", plan.rules[i].path, errno);
        }
        close(fd);
    }
    if (landlock::restrict_self(ruleset) != 0) {
        if (plan.landlock_fatal) {
            fail(plan, "landlock: restrict_self", nullptr, errno);
        }
        report(plan.status_fd, "note", "landlock: restrict_self", nullptr, errno);
    } else {
        Line line;
        line.add("prot landlock ").num(plan.landlock_abi);
        line.send(plan.status_fd);
    }
    close(ruleset);
}

void drop_capabilities(const ChildPlan& plan) {
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

[[noreturn]] void command_main(const ChildPlan& plan) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!plan.namespaces) {
        setsid();  // its own process group, so init can kill the group and stay alive
    }
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    if (dup2(plan.stdin_fd, 0) < 0 || dup2(plan.out_fd, 1) < 0 || dup2(plan.err_fd, 2) < 0) {
        fail(plan, "redirecting stdio", nullptr, errno);
    }
    // Every other descriptor closes at exec; the status pipe stays until then for errors.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    if (chdir(plan.cwd) != 0) {
        fail(plan, "changing to the working directory", plan.cwd, errno);
    }
    for (std::size_t i = 0; i < plan.n_limits; ++i) {
        const rlimit limit{plan.limits[i].value, plan.limits[i].value};
        if (setrlimit(static_cast<__rlimit_resource>(plan.limits[i].resource), &limit) != 0) {
            report(plan.status_fd, "note", "setrlimit", nullptr, errno);
        }
    }
    if (plan.drop_caps) {
        drop_capabilities(plan);
    }
    if (plan.landlock_abi > 0 || plan.seccomp.len > 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
            fail(plan, "no_new_privs", nullptr, errno);
        }
        report(plan.status_fd, "prot", "no_new_privs", nullptr, 0);
    }
    if (plan.landlock_abi > 0) {
        apply_landlock(plan);
    }
    if (plan.seccomp.len > 0) {
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &plan.seccomp, 0, 0) != 0) {
            if (plan.seccomp_fatal) {
                fail(plan, "seccomp: loading the filter", nullptr, errno);
            }
            report(plan.status_fd, "note", "seccomp: loading the filter", nullptr, errno);
        } else {
            report(plan.status_fd, "prot", "seccomp", nullptr, 0);
        }
    }
    execve(plan.exe, plan.argv, plan.envp);
    report(plan.status_fd, "error", "exec", plan.exe, errno);
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

[[noreturn]] void init_main(const ChildPlan& plan) {
    // The parent's handlers are the agent's code: none of it may run here.
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    if (plan.namespaces) {
        char go = 0;
        if (read(plan.sync_fd, &go, 1) != 1) {
            _exit(125);  // the parent gave up on us
        }
    }
    close(plan.sync_fd);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    prctl(PR_SET_NAME, "osprey-init", 0, 0, 0);
    int slots[kMaxSlots];
    for (int& s : slots) {
        s = -1;
    }
    int proc_fd = -1;
    for (std::size_t i = 0; i < plan.n_ops; ++i) {
        const MountOp& op = plan.ops[i];
        const int err = run_op(op, slots);
        if (err == 0) {
            if (op.op == Op::proc) {
                report(plan.status_fd, "prot", "proc", nullptr, 0);
                proc_fd = open(op.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            }
            continue;
        }
        if (op.fatal) {
            fail(plan, op_name(op.op), op.path, err);
        }
        report(plan.status_fd, "note", op_name(op.op), op.path, err);
    }
    if (plan.bring_lo_up) {
        bring_loopback_up(plan);
    }
    if (!plan.namespaces) {
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGTERM);
    sigprocmask(SIG_BLOCK, &waited, nullptr);

    const pid_t command = static_cast<pid_t>(_Fork());
    if (command < 0) {
        fail(plan, "fork", nullptr, errno);
    }
    if (command == 0) {
        command_main(plan);
    }
    close(plan.stdin_fd);
    close(plan.out_fd);
    close(plan.err_fd);

    const bool watchdog = plan.max_processes > 0 && proc_fd >= 0;
    int status = 0;
    bool stopped = false;
    long too_many = 0;
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
            if (n > plan.max_processes) {
                too_many = n;
                break;
            }
        }
        timespec wait{};
        wait.tv_nsec = watchdog ? 10'000'000 : 0;
        wait.tv_sec = watchdog ? 0 : 1;
        siginfo_t info{};
        if (sigtimedwait(&waited, &info, &wait) == SIGTERM) {
            stopped = true;
            break;
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
    line.send(plan.status_fd);
    _exit(0);
}

}  // namespace
}  // namespace osprey::sandbox

// ================================================================================================
// Parent side.

namespace osprey::sandbox {
namespace {

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) {
            close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

struct PipePair {
    Fd read;
    Fd write;
};

PipePair make_pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw SandboxError("cannot create a pipe: " + errno_text(errno));
    }
    return {Fd(fds[0]), Fd(fds[1])};
}

bool is_within(const fs::path& path, const fs::path& dir) {
    auto p = path.begin();
    for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
        if (d->empty()) {
            continue;  // trailing separator
        }
        if (p == path.end() || *p != *d) {
            return false;
        }
    }
    return true;
}

std::optional<std::string> env_value(const std::vector<std::string>& env, std::string_view name) {
    for (const auto& e : env) {
        if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 &&
            e[name.size()] == '=') {
            return e.substr(name.size() + 1);
        }
    }
    return std::nullopt;
}

void set_env(std::vector<std::string>& env, const std::string& entry) {
    const std::string name = entry.substr(0, entry.find('='));
    std::erase_if(
        env, [&](const std::string& e) { return e.compare(0, name.size() + 1, name + "=") == 0; });
    env.push_back(entry);
}

std::string find_executable(const std::string& name, const std::vector<std::string>& env) {
    if (name.find('/') != std::string::npos) {
        return name;
    }
    const std::string path = env_value(env, "PATH").value_or("/usr/local/bin:/usr/bin:/bin");
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find(':', start), path.size());
        const std::string dir = end > start ? path.substr(start, end - start) : ".";
        const std::string candidate = dir + "/" + name;
        struct stat st {};
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        start = end + 1;
    }
    throw SandboxError("command not found: '" + name + "' (searched PATH=" + path + ")");
}

int cap_last() {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int v = 40;
    in >> v;
    return v;
}

int landlock_abi_cached() {
    static const int abi = landlock::abi_version();
    return abi;
}

fs::path expand_home(const fs::path& p, const fs::path& home) {
    const std::string s = p.string();
    if (s == "~") {
        return home;
    }
    if (s.rfind("~/", 0) == 0) {
        return home / s.substr(2);
    }
    return p;
}

fs::path resolve_existing(const fs::path& p, const std::string& what) {
    std::error_code ec;
    fs::path c = fs::canonical(p, ec);
    if (ec) {
        throw SandboxError(what + " " + p.string() + " is not usable: " + ec.message());
    }
    return c;
}

constexpr const char* kDevNodes[] = {"/dev/null",   "/dev/zero",    "/dev/full",
                                     "/dev/random", "/dev/urandom", "/dev/tty"};

// Everything the child needs, with the storage its pointers refer to.
struct Prepared {
    std::vector<std::string> strings_storage;  // reserve()d: pointers into it stay valid
    std::vector<MountOp> ops;
    std::vector<LandlockRule> rules;
    std::vector<std::string> argv_storage;
    std::vector<std::string> env_storage;
    std::vector<char*> argv;
    std::vector<char*> envp;
    std::string exe;
    std::string cwd;
    SeccompProgram seccomp;
    ChildPlan plan;
    int slots = 0;

    const char* keep(const std::string& s) {
        if (strings_storage.size() == strings_storage.capacity()) {
            throw SandboxError("internal: too many sandbox paths");
        }
        strings_storage.push_back(s);
        return strings_storage.back().c_str();
    }
    int slot() {
        if (slots >= kMaxSlots) {
            throw SandboxError("too many paths to bind into the sandbox (at most " +
                               std::to_string(kMaxSlots) + ")");
        }
        return slots++;
    }
    void op(Op kind, const std::string& path, const std::string& arg = {}, int slot_index = -1,
            bool fatal = true) {
        ops.push_back({kind, keep(path), arg.empty() ? nullptr : keep(arg), slot_index, fatal});
    }
    // mkdir for every missing component between `base` (exclusive) and `path` (inclusive).
    void mkdirs(const fs::path& path, const fs::path& base) {
        fs::path p = base;
        const auto rel = path.lexically_relative(base);
        for (const auto& part : rel) {
            p /= part;
            op(Op::mkdir, p.string());
        }
    }
};

struct Resolved {
    Mode mode;
    fs::path workspace;
    fs::path home;
    fs::path cwd;
    std::vector<fs::path> writable;
    std::vector<fs::path> hidden;
    std::vector<fs::path> read_only;
};

}  // namespace

struct Process::State {
    pid_t pid = -1;
    Fd pidfd;
    Fd out;
    Fd err;
    Fd status;
    OutputCapture out_capture;
    OutputCapture err_capture;
    std::string status_text;
    Clock::time_point start;
    std::optional<Clock::time_point> deadline;
    std::optional<Clock::time_point> kill_at;  // fallback stop: SIGKILL init after a grace period
    std::optional<Clock::time_point> drain_until;
    std::optional<EndReason> forced;
    bool exited = false;
    bool namespaces = false;
    Limits limits;
    DenialContext context;
    Protection protection;
    std::vector<std::string> degraded;
    fs::path private_tmp;  // without a mount namespace: a real folder, removed at the end

    explicit State(const Limits& l) : out_capture(l.output_bytes), err_capture(l.output_bytes) {}
    ~State() {
        if (pid > 0 && !exited) {
            syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
            siginfo_t info{};
            waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED | __WALL);
        }
        if (!private_tmp.empty()) {
            std::error_code ignored;
            fs::remove_all(private_tmp, ignored);
        }
    }
};

namespace {

Resolved resolve(const Command& command, const Policy& policy,
                 const std::vector<std::string>& env) {
    Resolved r;
    r.mode = policy.mode;
    r.workspace = resolve_existing(policy.workspace.empty() ? fs::current_path() : policy.workspace,
                                   "workspace");
    if (!fs::is_directory(r.workspace)) {
        throw SandboxError("workspace " + r.workspace.string() + " is not a directory");
    }
    if (!policy.home.empty()) {
        r.home = policy.home;
    } else if (auto h = env_value(env, "HOME")) {
        r.home = *h;
    } else if (const char* h = std::getenv("HOME")) {
        r.home = h;
    }
    fs::path cwd = command.cwd.empty()         ? r.workspace
                   : command.cwd.is_absolute() ? command.cwd
                                               : r.workspace / command.cwd;
    r.cwd = resolve_existing(cwd, "working directory");
    std::error_code ec;
    if (r.mode == Mode::workspace_write) {
        r.writable.push_back(r.workspace);
    }
    for (const auto& w : policy.writable) {
        const fs::path p = fs::weakly_canonical(expand_home(w, r.home), ec);
        if (!ec && fs::exists(p)) {
            r.writable.push_back(p);
        }
    }
    if (!r.home.empty()) {
        for (const auto& h : default_hidden_paths(r.home)) {
            r.hidden.push_back(h);
        }
    }
    for (const auto& h : policy.hidden) {
        r.hidden.push_back(expand_home(h, r.home));
    }
    if (r.mode == Mode::workspace_write) {
        for (const auto& p : default_read_only_paths(r.workspace)) {
            r.read_only.push_back(p);
        }
    }
    for (const auto& p : policy.read_only) {
        const fs::path e = expand_home(p, r.home);
        r.read_only.push_back(e.is_absolute() ? e : r.workspace / e);
    }
    return r;
}

// The mount plan: a read-only view of the host, a private /tmp and a minimal /dev, the writable
// paths bound back read-write, protected paths read-only again, secrets covered.
void plan_mounts(Prepared& prep, const Resolved& r, std::uint64_t tmp_bytes) {
    const fs::path tmp = "/tmp";
    prep.op(Op::private_root, "/");
    std::vector<std::pair<fs::path, int>> writable_slots;
    std::vector<std::pair<fs::path, int>> readonly_slots;
    for (const auto& w : r.writable) {
        writable_slots.emplace_back(w, prep.slot());
        prep.op(Op::clone_tree, w.string(), {}, writable_slots.back().second);
    }
    // Read-only paths the private /tmp would otherwise cover: HOME and the cwd in tests and
    // scratch folders, the workspace under read-only.
    std::vector<fs::path> reexpose;
    for (const auto& p : {r.home, r.cwd, r.workspace}) {
        if (!p.empty() && p != tmp && is_within(p, tmp)) {
            const bool covered = std::any_of(r.writable.begin(), r.writable.end(),
                                             [&](const fs::path& w) { return is_within(p, w); }) ||
                                 std::any_of(reexpose.begin(), reexpose.end(),
                                             [&](const fs::path& e) { return is_within(p, e); });
            if (!covered && fs::is_directory(p)) {
                reexpose.push_back(p);
            }
        }
    }
    for (const auto& p : reexpose) {
        readonly_slots.emplace_back(p, prep.slot());
        prep.op(Op::clone_tree, p.string(), {}, readonly_slots.back().second);
    }
    std::vector<std::pair<std::string, int>> dev_slots;
    for (const char* node : kDevNodes) {
        if (access(node, F_OK) == 0) {
            dev_slots.emplace_back(node, prep.slot());
            prep.op(Op::clone_tree, node, {}, dev_slots.back().second, false);
        }
    }
    prep.op(Op::readonly_root, "/");
    prep.op(Op::tmpfs, "/tmp", "mode=1777,size=" + std::to_string(tmp_bytes));
    // /dev: only harmless nodes (the host's /dev has disks and consoles).
    prep.op(Op::tmpfs, "/dev", "mode=755,size=64k");
    for (const auto& [node, slot] : dev_slots) {
        prep.op(Op::touch, node, {}, -1, false);
        prep.op(Op::attach, node, {}, slot, false);
    }
    prep.op(Op::mkdir, "/dev/shm");
    prep.op(Op::tmpfs, "/dev/shm", "mode=1777,size=" + std::to_string(tmp_bytes / 4));
    prep.op(Op::mkdir, "/dev/pts");
    prep.op(Op::devpts, "/dev/pts", {}, -1, false);
    prep.op(Op::symlink, "/dev/ptmx", "pts/ptmx", -1, false);
    prep.op(Op::symlink, "/dev/fd", "/proc/self/fd", -1, false);
    prep.op(Op::symlink, "/dev/stdin", "/proc/self/fd/0", -1, false);
    prep.op(Op::symlink, "/dev/stdout", "/proc/self/fd/1", -1, false);
    prep.op(Op::symlink, "/dev/stderr", "/proc/self/fd/2", -1, false);
    prep.op(Op::readonly, "/dev", {}, -1, false);
    auto attach = [&](const fs::path& p, int slot) {
        if (is_within(p, tmp) && p != tmp) {
            prep.mkdirs(p, tmp);
        }
        prep.op(Op::attach, p.string(), {}, slot);
    };
    for (const auto& [p, slot] : writable_slots) {
        attach(p, slot);
    }
    for (const auto& [p, slot] : readonly_slots) {
        attach(p, slot);
        prep.op(Op::readonly_bind, p.string());
    }
    for (const auto& p : r.read_only) {
        std::error_code ec;
        if (fs::exists(fs::symlink_status(p, ec)) &&
            std::any_of(r.writable.begin(), r.writable.end(),
                        [&](const fs::path& w) { return is_within(p, w); })) {
            prep.op(Op::readonly_bind, p.string());
        }
    }
    for (const auto& h : r.hidden) {
        std::error_code ec;
        const auto st = fs::status(h, ec);  // follows links: hide what they point at
        if (ec || !fs::exists(st)) {
            continue;
        }
        prep.op(fs::is_directory(st) ? Op::hide_dir : Op::hide_file, h.string());
    }
    prep.op(Op::proc, "/proc", {}, -1, false);
}

void plan_landlock(Prepared& prep, const Resolved& r, const fs::path& tmp, int abi, bool deny_tcp) {
    using namespace landlock;
    const std::uint64_t read = kExecute | kReadFile | kReadDir;
    const std::uint64_t all = fs_rights(abi);
    const std::uint64_t device =
        kReadFile | kWriteFile | (abi >= 3 ? kTruncate : 0) | (abi >= 5 ? kIoctlDev : 0);
    auto rule = [&](const std::string& path, std::uint64_t access) {
        prep.rules.push_back({prep.keep(path), access});
    };
    rule("/", read);
    for (const auto& w : r.writable) {
        rule(w.string(), all);
    }
    rule(tmp.string(), all);
    rule("/dev/shm", all);
    for (const char* node : kDevNodes) {
        rule(node, device);
    }
    rule("/dev/ptmx", device);
    rule("/dev/pts", device | kReadDir);
    prep.plan.landlock_attr.handled_access_fs = all;
    if (deny_tcp && abi >= 4) {
        prep.plan.landlock_attr.handled_access_net = kBindTcp | kConnectTcp;
    }
    if (abi >= 6) {
        prep.plan.landlock_attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    }
}

}  // namespace

Process::Process(std::unique_ptr<State> state) : state_(std::move(state)) {}
Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;
Process::~Process() = default;

int Process::pid() const {
    return state_->pid;
}
int Process::pidfd() const {
    return state_->pidfd.get();
}
int Process::stdout_fd() const {
    return state_->out.get();
}
int Process::stderr_fd() const {
    return state_->err.get();
}
Clock::time_point Process::started() const {
    return state_->start;
}
std::optional<Clock::time_point> Process::deadline() const {
    return state_->deadline;
}

Process Process::start(const Command& command, const Policy& policy) {
    if (command.argv.empty()) {
        throw SandboxError("empty command");
    }
    std::vector<std::string> base;
    if (command.environment) {
        base = *command.environment;
    } else {
        for (char** e = environ; *e != nullptr; ++e) {
            base.emplace_back(*e);
        }
    }
    const Resolved r = resolve(command, policy, base);
    std::vector<std::string> env = scrub_environment(base, policy.environment);
    if (!r.home.empty() && !env_value(env, "HOME")) {
        env.push_back("HOME=" + r.home.string());
    }
    set_env(env, "PWD=" + r.cwd.string());
    for (const auto& e : command.set_environment) {
        set_env(env, e);
    }

    auto state = std::make_unique<State>(policy.limits);
    state->limits = policy.limits;
    state->context.mode = r.mode;
    state->context.workspace = r.workspace;
    state->context.writable = r.writable;
    state->context.hidden = r.hidden;
    state->context.read_only = r.read_only;
    state->context.network = policy.network;
    state->context.limits = policy.limits;

    const bool confined = r.mode != Mode::full;
    const int abi = confined ? landlock_abi_cached() : 0;
    const std::string exe = find_executable(command.argv[0], env);

    // Try the namespaces first; without them, degrade to Landlock + seccomp (or fail closed).
    bool namespaces = confined;
    for (int attempt = 0; attempt < 2; ++attempt) {
        Prepared prep;
        prep.strings_storage.reserve(1024);
        prep.exe = exe;
        prep.cwd = r.cwd.string();
        prep.argv_storage = command.argv;
        prep.env_storage = env;
        fs::path tmp = "/tmp";
        if (confined && !namespaces) {
            // A real private temp folder, since /tmp cannot be replaced.
            std::string pattern = "/tmp/osprey-sandbox-XXXXXX";
            if (mkdtemp(pattern.data()) == nullptr) {
                throw SandboxError("cannot create a private temp folder: " + errno_text(errno));
            }
            state->private_tmp = pattern;
            tmp = pattern;
        }
        if (confined) {
            for (const char* name : {"TMPDIR=", "TMP=", "TEMP="}) {
                set_env(prep.env_storage, name + tmp.string());
            }
        }
        for (auto& a : prep.argv_storage) {
            prep.argv.push_back(a.data());
        }
        prep.argv.push_back(nullptr);
        for (auto& e : prep.env_storage) {
            prep.envp.push_back(e.data());
        }
        prep.envp.push_back(nullptr);

        ChildPlan& plan = prep.plan;
        plan.namespaces = namespaces;
        plan.exe = prep.exe.c_str();
        plan.argv = prep.argv.data();
        plan.envp = prep.envp.data();
        plan.cwd = prep.cwd.c_str();
        if (namespaces) {
            plan_mounts(prep, r, policy.limits.private_tmp_bytes);
        }
        if (confined && abi > 0) {
            plan_landlock(prep, r, tmp, abi, !policy.network && !namespaces);
            plan.landlock_abi = abi;
            plan.landlock_fatal = !namespaces && policy.demands(Requirement::fs);
        }
        if (confined) {
            prep.seccomp = build_seccomp_program(!policy.network && !namespaces);
            if (prep.seccomp.empty() && policy.demands(Requirement::seccomp)) {
                throw SandboxError("the sandbox requires seccomp, which is unavailable: " +
                                   prep.seccomp.error);
            }
            plan.seccomp.len = static_cast<unsigned short>(prep.seccomp.code.size());
            plan.seccomp.filter = reinterpret_cast<sock_filter*>(prep.seccomp.code.data());
            plan.seccomp_fatal = policy.demands(Requirement::seccomp);
        }
        plan.ops = prep.ops.data();
        plan.n_ops = prep.ops.size();
        plan.rules = prep.rules.data();
        plan.n_rules = prep.rules.size();
        const Limits& l = policy.limits;
        auto limit = [&](int resource, std::uint64_t value) {
            if (value > 0) {
                plan.limits[plan.n_limits++] = {resource, static_cast<rlim_t>(value)};
            }
        };
        limit(RLIMIT_CPU, l.cpu_seconds);
        limit(RLIMIT_AS, l.memory_bytes);
        limit(RLIMIT_FSIZE, l.file_size_bytes);
        limit(RLIMIT_NOFILE, l.open_files);
        plan.limits[plan.n_limits++] = {RLIMIT_CORE, 0};
        if (namespaces) {
            // Without a user namespace RLIMIT_NPROC would count all of the user's processes.
            limit(RLIMIT_NPROC, l.max_processes);
            plan.max_processes = static_cast<long>(l.max_processes);
        }
        plan.bring_lo_up = namespaces;
        plan.drop_caps = namespaces || geteuid() == 0;
        plan.cap_last = cap_last();

        PipePair out = make_pipe();
        PipePair err = make_pipe();
        PipePair status = make_pipe();
        PipePair sync = make_pipe();
        Fd input(memfd_create("osprey-stdin", MFD_CLOEXEC));
        if (input.get() < 0) {
            throw SandboxError("memfd_create: " + errno_text(errno));
        }
        if (!command.stdin_data.empty()) {
            std::size_t off = 0;
            while (off < command.stdin_data.size()) {
                const ssize_t n = write(input.get(), command.stdin_data.data() + off,
                                        command.stdin_data.size() - off);
                if (n <= 0) {
                    throw SandboxError("writing the command's stdin: " + errno_text(errno));
                }
                off += static_cast<std::size_t>(n);
            }
            lseek(input.get(), 0, SEEK_SET);
        }
        plan.sync_fd = sync.read.get();
        plan.status_fd = status.write.get();
        plan.stdin_fd = input.get();
        plan.out_fd = out.write.get();
        plan.err_fd = err.write.get();

        int pidfd = -1;
        clone_args args{};
        args.flags = CLONE_PIDFD;
        if (namespaces) {
            args.flags |= CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                          CLONE_NEWUTS;
        }
        args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
        args.exit_signal = 0;  // no SIGCHLD into the agent's own handlers; waited via the pidfd
        state->start = Clock::now();
        const long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0) {
            init_main(plan);
        }
        if (pid < 0) {
            const int e = errno;
            if (namespaces) {
                state->degraded.push_back("namespaces unavailable (clone3: " + errno_text(e) +
                                          "): no mount, PID or network namespace");
                namespaces = false;
                continue;
            }
            throw SandboxError("cannot start the command: clone3: " + errno_text(e));
        }
        state->pid = static_cast<pid_t>(pid);
        state->pidfd = Fd(pidfd);
        if (namespaces) {
            const std::string uid = std::to_string(geteuid());
            const std::string gid = std::to_string(getegid());
            const std::string proc = "/proc/" + std::to_string(pid);
            auto write_file = [](const std::string& path, const std::string& text) {
                std::ofstream f(path);
                f << text;
                f.flush();
                return static_cast<bool>(f);
            };
            if (!write_file(proc + "/setgroups", "deny") ||
                !write_file(proc + "/uid_map", uid + " " + uid + " 1\n") ||
                !write_file(proc + "/gid_map", gid + " " + gid + " 1\n")) {
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
                siginfo_t info{};
                waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | __WALL);
                state->pid = -1;
                state->pidfd.reset();
                state->degraded.push_back(
                    "user namespace unusable (cannot write its uid/gid map): no mount, PID or "
                    "network namespace");
                namespaces = false;
                continue;
            }
            const char go = 1;
            if (write(sync.write.get(), &go, 1) != 1) {
                throw SandboxError("cannot start the sandbox: " + errno_text(errno));
            }
        }
        state->namespaces = namespaces;
        state->out = std::move(out.read);
        state->err = std::move(err.read);
        state->status = std::move(status.read);
        for (const int fd : {state->out.get(), state->err.get(), state->status.get()}) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
        Protection& p = state->protection;
        p.user_namespace = p.mount_namespace = p.pid_namespace = p.network_namespace =
            p.ipc_namespace = namespaces;
        p.rlimits = true;
        if (policy.limits.timeout.count() > 0) {
            state->deadline = state->start + policy.limits.timeout;
        }
        break;
    }
    if (state->pid < 0) {
        throw SandboxError("cannot start the command under the sandbox");
    }
    if (confined && !namespaces) {
        // Say what is missing; fail closed where the policy demands it.
        if (policy.demands(Requirement::pid)) {
            throw SandboxError("the sandbox requires a PID namespace, which is unavailable: " +
                               state->degraded.front());
        }
        if (policy.demands(Requirement::fs) && abi == 0) {
            throw SandboxError(
                "the sandbox requires filesystem confinement: no mount namespace and no Landlock");
        }
        if (policy.demands(Requirement::net) && abi < 4) {
            // seccomp still denies AF_INET sockets, which Requirement::net accepts only with the
            // Landlock TCP rules beside it.
            throw SandboxError(
                "the sandbox requires network isolation: no network namespace and no Landlock "
                "TCP rules (ABI 4)");
        }
        state->degraded.push_back(
            "secrets are not hidden and .git is writable (no mount "
            "namespace); /tmp is replaced by " +
            state->private_tmp.string());
        if (abi == 0) {
            state->degraded.push_back("no filesystem confinement: Landlock is unavailable");
        }
    }
    if (confined && abi == 0) {
        state->degraded.push_back(
            "Landlock unavailable on this kernel: the mount namespace is the "
            "only filesystem layer");
    }
    return Process(std::move(state));
}

}  // namespace osprey::sandbox

namespace osprey::sandbox {
namespace {

// Reads what is there; returns false at end of file (and closes the descriptor).
template <typename Sink>
void drain(Fd& fd, Sink&& sink) {
    char buf[65536];
    while (fd.get() >= 0) {
        const ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n > 0) {
            sink(std::string_view(buf, static_cast<std::size_t>(n)));
            continue;
        }
        if (n == 0) {
            fd.reset();
        } else if (errno != EINTR) {
            if (errno != EAGAIN) {
                fd.reset();
            }
            return;
        }
    }
}

void send_kill(const Process& p, int sig) {
    syscall(SYS_pidfd_send_signal, p.pidfd(), sig, nullptr, 0);
}

}  // namespace

bool Process::pump() {
    State& s = *state_;
    drain(s.out, [&](std::string_view b) { s.out_capture.add(b); });
    drain(s.err, [&](std::string_view b) { s.err_capture.add(b); });
    drain(s.status, [&](std::string_view b) { s.status_text.append(b); });
    const auto now = Clock::now();
    if (!s.exited) {
        const std::uint64_t produced = s.out_capture.total() + s.err_capture.total();
        if (s.limits.output_stop_bytes > 0 && produced > s.limits.output_stop_bytes) {
            stop(EndReason::output_cap);
        } else if (s.deadline && now >= *s.deadline) {
            stop(EndReason::timeout);
        }
        if (s.kill_at && now >= *s.kill_at) {
            send_kill(*this, SIGKILL);
            s.kill_at.reset();
        }
        siginfo_t info{};
        if (waitid(P_PIDFD, static_cast<id_t>(s.pidfd.get()), &info, WEXITED | WNOHANG | __WALL) ==
                0 &&
            info.si_pid != 0) {
            s.exited = true;
            // Anything still holding the pipes is gone with the namespace; without one, give
            // stragglers a moment, then stop reading.
            s.drain_until = now + std::chrono::milliseconds(s.namespaces ? 2000 : 500);
            drain(s.out, [&](std::string_view b) { s.out_capture.add(b); });
            drain(s.err, [&](std::string_view b) { s.err_capture.add(b); });
            drain(s.status, [&](std::string_view b) { s.status_text.append(b); });
        }
    }
    if (s.exited && s.drain_until && now >= *s.drain_until) {
        s.out.reset();
        s.err.reset();
        s.status.reset();
    }
    return !done();
}

bool Process::done() {
    const State& s = *state_;
    return s.exited && s.out.get() < 0 && s.err.get() < 0 && s.status.get() < 0;
}

std::string Process::take_new_stdout() {
    return state_->out_capture.take_new();
}
std::string Process::take_new_stderr() {
    return state_->err_capture.take_new();
}

void Process::stop(EndReason why) {
    State& s = *state_;
    if (s.exited) {
        return;
    }
    if (!s.forced) {
        s.forced = why;
    }
    if (s.namespaces) {
        send_kill(*this, SIGKILL);  // init dies, the kernel kills the rest of the namespace
    } else if (!s.kill_at) {
        send_kill(*this, SIGTERM);  // init kills its descendants, then exits
        s.kill_at = Clock::now() + std::chrono::milliseconds(500);
    }
}

RunResult Process::finish() {
    State& s = *state_;
    while (pump()) {
        pollfd fds[4];
        nfds_t n = 0;
        for (const int fd : {s.out.get(), s.err.get(), s.status.get()}) {
            if (fd >= 0) {
                fds[n++] = {fd, POLLIN, 0};
            }
        }
        if (!s.exited) {
            fds[n++] = {s.pidfd.get(), POLLIN, 0};
        }
        int timeout_ms = 1000;
        const auto now = Clock::now();
        for (const auto& t : {s.deadline, s.kill_at, s.drain_until}) {
            if (t) {
                const auto left =
                    std::chrono::duration_cast<std::chrono::milliseconds>(*t - now).count();
                timeout_ms = static_cast<int>(std::clamp<long long>(left + 1, 0, timeout_ms));
            }
        }
        poll(fds, n, timeout_ms);
    }
    RunResult r;
    r.wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - s.start);
    r.mode = s.context.mode;
    r.protection = s.protection;
    r.degraded = s.degraded;
    r.out = s.out_capture.text();
    r.err = s.err_capture.text();
    r.out_total = s.out_capture.total();
    r.err_total = s.err_capture.total();
    std::optional<EndReason> from_child;
    std::size_t pos = 0;
    while (pos < s.status_text.size()) {
        const std::size_t end = std::min(s.status_text.find('\n', pos), s.status_text.size());
        const std::string line = s.status_text.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t space = line.find(' ');
        const std::string key = line.substr(0, space);
        const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
        if (key == "prot") {
            if (rest == "proc") {
                r.protection.proc_mounted = true;
            } else if (rest == "loopback") {
                r.protection.loopback = true;
            } else if (rest == "seccomp") {
                r.protection.seccomp = true;
            } else if (rest == "no_new_privs") {
                r.protection.no_new_privs = true;
            } else if (rest.rfind("landlock ", 0) == 0) {
                r.protection.landlock_abi = std::atoi(rest.c_str() + 9);
            }
        } else if (key == "note") {
            if (std::find(r.degraded.begin(), r.degraded.end(), rest) == r.degraded.end()) {
                r.degraded.push_back(rest);
            }
        } else if (key == "error") {
            r.setup_error += (r.setup_error.empty() ? "" : "; ") + rest;
        } else if (key == "exit") {
            r.exit_code = std::atoi(rest.c_str());
            from_child = EndReason::exited;
        } else if (key == "signal") {
            r.signal = std::atoi(rest.c_str());
            r.exit_code = 128 + r.signal;
            from_child = EndReason::signaled;
        } else if (key == "pids") {
            from_child = EndReason::process_cap;
        } else if (key == "stopped") {
            from_child = EndReason::stopped;
        }
    }
    if (s.forced) {
        r.reason = *s.forced;
        if (!from_child || *from_child == EndReason::stopped) {
            r.signal = SIGKILL;
            r.exit_code = 128 + SIGKILL;
        }
    } else if (from_child) {
        r.reason = *from_child;
        if (r.reason == EndReason::process_cap) {
            r.signal = SIGKILL;
            r.exit_code = 128 + SIGKILL;
        }
    } else {
        r.reason = EndReason::setup_failed;
        if (r.setup_error.empty()) {
            r.setup_error = "the sandbox's init ended without a status";
        }
    }
    if (r.reason == EndReason::exited && r.exit_code == 126 && !r.setup_error.empty()) {
        r.reason = EndReason::setup_failed;
    }
    if (r.reason == EndReason::signaled && (r.signal == SIGXCPU)) {
        r.reason = EndReason::cpu_cap;
    }
    add_denials(r, s.context);
    return r;
}

RunResult run(const Command& command, const Policy& policy) {
    Process p = Process::start(command, policy);
    return p.finish();
}

Command Command::shell(std::string script) {
    Command c;
    const bool bash = access("/bin/bash", X_OK) == 0;
    c.argv = {bash ? "/bin/bash" : "/bin/sh", "-c", std::move(script)};
    return c;
}

std::string_view to_string(EndReason reason) {
    switch (reason) {
        case EndReason::exited:
            return "exit";
        case EndReason::signaled:
            return "signal";
        case EndReason::timeout:
            return "timeout";
        case EndReason::output_cap:
            return "output cap";
        case EndReason::memory_cap:
            return "memory cap";
        case EndReason::process_cap:
            return "process cap";
        case EndReason::cpu_cap:
            return "cpu cap";
        case EndReason::stopped:
            return "stopped";
        case EndReason::setup_failed:
            return "sandbox setup failed";
    }
    return "?";
}

}  // namespace osprey::sandbox
