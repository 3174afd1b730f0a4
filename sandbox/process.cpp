// Starting and supervising a sandboxed command tree (the parent side).
//
// Process::start decides everything (the mount plan, Landlock rules, the compiled seccomp program,
// rlimits) into an init::Plan, then clone()s with CLONE_VM | CLONE_VFORK into new user, mount,
// PID, network, IPC and UTS namespaces; the child maps its user, keeps its capabilities for the
// namespace and execs the embedded init program (sandbox/init/sandbox_init.cpp) from a memfd. The
// agent's address space is never copied (no page-table copy, no copy-on-write faults while a
// command runs). The rest is supervision: non-blocking pipes, a pidfd, the deadline, output caps.

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
#include "sandbox/init/plan.hpp"
#include "sandbox/init_program.hpp"
#include "sandbox/landlock.hpp"
#include "sandbox/run.hpp"
#include "sandbox/seccomp_filter.hpp"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

extern char** environ;

namespace osprey::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using init::Op;

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
    static const int last = [] {
        std::ifstream in("/proc/sys/kernel/cap_last_cap");
        int v = 40;
        in >> v;
        return v;
    }();
    return last;
}

// Compiled once per process for each variant (immutable afterwards).
const SeccompProgram& seccomp_program(bool deny_inet_sockets) {
    static const SeccompProgram with_inet = build_seccomp_program(false);
    static const SeccompProgram without_inet = build_seccomp_program(true);
    return deny_inet_sockets ? without_inet : with_inet;
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

// Read by the child of clone(CLONE_VM | CLONE_VFORK): it shares our memory while we wait, so it
// only makes system calls, records a failure here, and execs or _exits.
struct SpawnArgs {
    bool namespaces = false;
    const char* uid_map = nullptr;
    const char* gid_map = nullptr;
    int cap_last = 40;
    int fds[5] = {-1, -1, -1, -1, -1};  // become init's descriptors 3..7
    int init_fd = -1;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    int error = 0;
    const char* stage = "";
};

// Not instrumented: it runs on a stack the sanitizers do not know.
__attribute__((no_sanitize_address, no_sanitize_undefined)) int spawn_child(void* arg) {
    auto* a = static_cast<SpawnArgs*>(arg);
    if (a->namespaces) {
        // Map our own user into the new namespace (no round trip through the parent), then keep
        // our capabilities in it across the exec (ambient), for the init program's mounts.
        const struct {
            const char* path;
            const char* text;
        } maps[] = {{"/proc/self/setgroups", "deny"},
                    {"/proc/self/uid_map", a->uid_map},
                    {"/proc/self/gid_map", a->gid_map}};
        for (const auto& m : maps) {
            const int fd = open(m.path, O_WRONLY | O_CLOEXEC);
            const auto len = static_cast<ssize_t>(std::strlen(m.text));
            if (fd < 0 || write(fd, m.text, static_cast<std::size_t>(len)) != len) {
                a->error = errno != 0 ? errno : EIO;
                a->stage = "writing the user namespace map";
                _exit(127);
            }
            close(fd);
        }
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        // Root keeps its capabilities across the exec anyway (uid 0 inside).
        if (geteuid() != 0 && syscall(SYS_capget, &header, data) == 0) {
            data[0].inheritable = data[0].permitted;
            data[1].inheritable = data[1].permitted;
            syscall(SYS_capset, &header, data);
            for (int cap = 0; cap <= a->cap_last; ++cap) {
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
            }
        }
    }
    for (int i = 0; i < 5; ++i) {
        if (dup2(a->fds[i], init::kPlanFd + i) < 0) {
            a->error = errno;
            a->stage = "dup2";
            _exit(127);
        }
    }
    syscall(SYS_execveat, a->init_fd, "", a->argv, a->envp, AT_EMPTY_PATH);
    a->error = errno;
    a->stage = "exec";
    _exit(127);
}

Fd high_copy(const Fd& fd) {
    const int copy = fcntl(fd.get(), F_DUPFD_CLOEXEC, 10);
    if (copy < 0) {
        throw SandboxError("cannot duplicate a descriptor for the sandbox: " + errno_text(errno));
    }
    return Fd(copy);
}

Fd memfd_with(const char* name, std::string_view bytes) {
    Fd fd(memfd_create(name, MFD_CLOEXEC));
    if (fd.get() < 0) {
        throw SandboxError(std::string("memfd_create: ") + errno_text(errno));
    }
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = write(fd.get(), bytes.data() + off, bytes.size() - off);
        if (n <= 0) {
            throw SandboxError(std::string("writing ") + name + ": " + errno_text(errno));
        }
        off += static_cast<std::size_t>(n);
    }
    lseek(fd.get(), 0, SEEK_SET);
    return fd;
}

// The init program, embedded in the library, as a sealed memfd made once per process.
int init_program_fd() {
    static const int fd = [] {
        const auto program = init_program();
        const int f = memfd_create("osprey-sandbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (f < 0) {
            return -1;
        }
        std::size_t off = 0;
        while (off < program.size()) {
            const ssize_t n = write(f, program.data() + off, program.size() - off);
            if (n <= 0) {
                close(f);
                return -1;
            }
            off += static_cast<std::size_t>(n);
        }
        fchmod(f, 0500);
        fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        return f;
    }();
    if (fd < 0) {
        throw SandboxError("cannot load the sandbox's init program into a memfd");
    }
    return fd;
}

constexpr const char* kDevNodes[] = {"/dev/null",   "/dev/zero",    "/dev/full",
                                     "/dev/random", "/dev/urandom", "/dev/tty"};

// The plan for the init program, and the bookkeeping of mount slots.
struct Prepared {
    init::Plan plan;
    int slots = 0;

    int slot() {
        if (slots >= init::kMaxSlots) {
            throw SandboxError("too many paths to bind into the sandbox (at most " +
                               std::to_string(init::kMaxSlots) + ")");
        }
        return slots++;
    }
    void op(Op kind, const std::string& path, const std::string& arg = {}, int slot_index = -1,
            bool fatal = true) {
        plan.ops.push_back({kind, path, arg, slot_index, fatal});
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
    bool graceful = false;                     // stop() sent SIGTERM: the command may clean up
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
            if (!namespaces) {
                // Without a PID namespace only init knows the tree: let it kill it first.
                syscall(SYS_pidfd_send_signal, pidfd.get(), SIGUSR2, nullptr, 0);
                pollfd pfd{pidfd.get(), POLLIN, 0};
                poll(&pfd, 1, 1000);
            }
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
void plan_mounts(Prepared& prep, const Resolved& r, std::uint64_t tmp_bytes, bool network) {
    // Replaced by fresh tmpfs: /tmp (private temp) and /run (host daemons' sockets: docker,
    // postgres, dbus, the user's session; a read-only bind does not stop connect()).
    std::vector<fs::path> covered_roots = {"/tmp"};
    std::error_code run_ec;
    if (fs::is_directory(fs::symlink_status("/run", run_ec))) {
        covered_roots.emplace_back("/run");
    }
    auto covering_root = [&](const fs::path& p) -> std::optional<fs::path> {
        for (const auto& root : covered_roots) {
            if (p != root && is_within(p, root)) {
                return root;
            }
        }
        return std::nullopt;
    };
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
    std::vector<fs::path> wanted = {r.home, r.cwd, r.workspace};
    if (network) {
        // With network allowed, name resolution may go through systemd-resolved's stub file
        // (/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf).
        wanted.emplace_back("/run/systemd/resolve");
    }
    for (const auto& p : wanted) {
        if (!p.empty() && covering_root(p)) {
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
    if (covered_roots.size() > 1) {
        prep.op(Op::tmpfs, "/run", "mode=755,size=1m");
        prep.op(Op::mkdir, "/run/lock");
        prep.op(Op::symlink, "/run/shm", "/dev/shm", -1, false);
    }
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
        if (const auto root = covering_root(p)) {
            prep.mkdirs(p, *root);
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

// Read access to everything but the hidden paths. Landlock rules only allow, so every directory on
// the way to a hidden path is split into its other entries (and keeps only READ_DIR itself: the
// names in ~/.ssh stay listable, the keys unreadable). Used when no mount namespace hides them.
void allow_read_except(Prepared& prep, const fs::path& dir, const std::vector<fs::path>& hidden,
                       std::uint64_t read, int depth) {
    bool splits = false;
    for (const auto& h : hidden) {
        if (h == dir) {
            return;
        }
        splits = splits || is_within(h, dir);
    }
    if (!splits || depth > 32) {
        prep.plan.rules.push_back({dir.string(), read});
        return;
    }
    prep.plan.rules.push_back({dir.string(), landlock::kReadDir});
    std::error_code ec;
    for (const auto& entry :
         fs::directory_iterator(dir, fs::directory_options::skip_permission_denied, ec)) {
        const fs::path p = entry.path();
        if (entry.is_symlink(ec)) {
            // A rule on a link applies to its target: never one that leads to a secret.
            const fs::path target = fs::weakly_canonical(p, ec);
            if (ec || std::any_of(hidden.begin(), hidden.end(), [&](const fs::path& h) {
                    return is_within(target, h) || is_within(h, target);
                })) {
                continue;
            }
            prep.plan.rules.push_back({p.string(), read});
            continue;
        }
        if (entry.is_directory(ec)) {
            allow_read_except(prep, p, hidden, read, depth + 1);
        } else if (std::none_of(hidden.begin(), hidden.end(),
                                [&](const fs::path& h) { return h == p; })) {
            prep.plan.rules.push_back({p.string(), read});
        }
    }
}

void plan_landlock(Prepared& prep, const Resolved& r, const fs::path& tmp, int abi, bool deny_tcp,
                   bool hide_secrets) {
    using namespace landlock;
    const std::uint64_t read = kExecute | kReadFile | kReadDir;
    const std::uint64_t all = fs_rights(abi);
    const std::uint64_t device =
        kReadFile | kWriteFile | (abi >= 3 ? kTruncate : 0) | (abi >= 5 ? kIoctlDev : 0);
    auto rule = [&](const std::string& path, std::uint64_t access) {
        prep.plan.rules.push_back({path, access});
    };
    if (hide_secrets) {
        std::vector<fs::path> hidden;
        for (const auto& h : r.hidden) {
            std::error_code ec;
            if (fs::exists(fs::symlink_status(h, ec))) {
                hidden.push_back(fs::weakly_canonical(h, ec));
            }
        }
        allow_read_except(prep, "/", hidden, read, 0);
    } else {
        rule("/", read);
    }
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
    prep.plan.landlock_fs = all;
    if (deny_tcp && abi >= 4) {
        prep.plan.landlock_net = kBindTcp | kConnectTcp;
    }
    if (abi >= 6) {
        prep.plan.landlock_scoped = kScopeAbstractUnixSocket | kScopeSignal;
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
    state->context.cwd = r.cwd;
    state->context.writable = r.writable;
    state->context.hidden = r.hidden;
    state->context.read_only = r.read_only;
    state->context.network = policy.network;
    state->context.limits = policy.limits;

    const bool confined = r.mode != Mode::full;
    if (!confined && !policy.full_consent) {
        throw SandboxError(
            "policy full runs the command without confinement and needs the "
            "user's explicit consent (Policy::full_consent)");
    }
    const int abi = confined ? landlock_abi_cached() : 0;
    const std::string exe = find_executable(command.argv[0], env);

    // Try the namespaces first; without them, degrade to Landlock + seccomp (or fail closed).
    bool namespaces = confined && policy.namespaces;
    if (confined && !policy.namespaces) {
        state->degraded.push_back("namespaces turned off by the policy");
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
        Prepared prep;
        init::Plan& plan = prep.plan;
        plan.namespaces = namespaces;
        plan.exe = exe;
        plan.cwd = r.cwd.string();
        plan.argv = command.argv;
        plan.env = env;
        fs::path tmp = "/tmp";
        if (confined && !namespaces && state->private_tmp.empty()) {
            // A real private temp folder, since /tmp cannot be replaced.
            std::string pattern = "/tmp/osprey-sandbox-XXXXXX";
            if (mkdtemp(pattern.data()) == nullptr) {
                throw SandboxError("cannot create a private temp folder: " + errno_text(errno));
            }
            state->private_tmp = pattern;
        }
        if (!state->private_tmp.empty()) {
            tmp = state->private_tmp;
        }
        if (confined) {
            for (const char* name : {"TMPDIR=", "TMP=", "TEMP="}) {
                set_env(plan.env, name + tmp.string());
            }
        }
        if (namespaces) {
            plan_mounts(prep, r, policy.limits.private_tmp_bytes, policy.network);
        }
        if (confined && abi > 0) {
            plan_landlock(prep, r, tmp, abi, !policy.network && !namespaces, !namespaces);
            plan.landlock_abi = abi;
            plan.landlock_fatal = !namespaces && policy.demands(Requirement::fs);
        }
        if (confined) {
            const SeccompProgram& seccomp = seccomp_program(!policy.network && !namespaces);
            if (seccomp.empty() && policy.demands(Requirement::seccomp)) {
                throw SandboxError("the sandbox requires seccomp, which is unavailable: " +
                                   seccomp.error);
            }
            if (seccomp.empty()) {
                state->degraded.push_back("seccomp unavailable: " + seccomp.error);
            }
            plan.seccomp = seccomp.code;
            plan.seccomp_fatal = policy.demands(Requirement::seccomp);
        }
        const Limits& l = policy.limits;
        auto limit = [&](int resource, std::uint64_t value) {
            if (value > 0) {
                plan.limits.push_back({resource, value});
            }
        };
        limit(RLIMIT_CPU, l.cpu_seconds);
        limit(RLIMIT_AS, l.memory_bytes);
        limit(RLIMIT_FSIZE, l.file_size_bytes);
        limit(RLIMIT_NOFILE, l.open_files);
        plan.limits.push_back({RLIMIT_CORE, 0});
        if (namespaces) {
            // Without a user namespace RLIMIT_NPROC would count all of the user's processes.
            limit(RLIMIT_NPROC, l.max_processes);
            plan.max_processes = static_cast<std::int64_t>(l.max_processes);
        }
        plan.bring_lo_up = namespaces && !policy.network;
        plan.drop_caps = namespaces || geteuid() == 0;
        plan.cap_last = cap_last();
        plan.stop_grace_ms = static_cast<std::int64_t>(l.stop_grace.count());

        PipePair out = make_pipe();
        PipePair err = make_pipe();
        PipePair status = make_pipe();
        Fd input = command.stdin_fd >= 0 ? Fd(fcntl(command.stdin_fd, F_DUPFD_CLOEXEC, 10))
                                         : memfd_with("osprey-stdin", command.stdin_data);
        if (input.get() < 0) {
            throw SandboxError("cannot pass stdin to the command: " + errno_text(errno));
        }
        Fd plan_fd = memfd_with("osprey-sandbox-plan", init::serialize(plan));

        const std::string uid = std::to_string(geteuid());
        const std::string gid = std::to_string(getegid());
        const std::string uid_map = uid + " " + uid + " 1\n";
        const std::string gid_map = gid + " " + gid + " 1\n";
        // The child's descriptors, moved above the numbers they will be dup'ed to.
        const Fd high[5] = {high_copy(plan_fd), high_copy(status.write), high_copy(input),
                            high_copy(out.write), high_copy(err.write)};
        std::string init_name = "osprey-sandbox-init";
        char* init_argv[] = {init_name.data(), nullptr};
        char* init_envp[] = {nullptr};
        SpawnArgs spawn;
        spawn.namespaces = namespaces;
        spawn.uid_map = uid_map.c_str();
        spawn.gid_map = gid_map.c_str();
        spawn.cap_last = plan.cap_last;
        for (int i = 0; i < 5; ++i) {
            spawn.fds[i] = high[i].get();
        }
        spawn.init_fd = init_program_fd();
        spawn.argv = init_argv;
        spawn.envp = init_envp;

        int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD;  // exit signal 0: no SIGCHLD for us
        if (namespaces) {
            flags |= CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                     CLONE_NEWCGROUP;
            if (!policy.network) {
                flags |= CLONE_NEWNET;  // only loopback: no network
            }
        }
        constexpr std::size_t kStack = 64 * 1024;
        void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
            throw SandboxError("cannot map a stack for the sandbox: " + errno_text(errno));
        }
#ifdef __SANITIZE_ADDRESS__
        ASAN_UNPOISON_MEMORY_REGION(stack, kStack);  // stale poison of an earlier mapping
#endif
        int pidfd = -1;
        state->start = Clock::now();
        // Returns once the child has exec'ed the init program (or failed): CLONE_VFORK.
        const int pid = clone(spawn_child, static_cast<char*>(stack) + kStack, flags, &spawn,
                              &pidfd, nullptr, nullptr);
        const int clone_errno = errno;
        munmap(stack, kStack);
        if (pid < 0) {
            if (namespaces) {
                state->degraded.push_back(
                    "namespaces unavailable (clone: " + errno_text(clone_errno) +
                    "): no mount, PID or network namespace");
                namespaces = false;
                continue;
            }
            throw SandboxError("cannot start the command: clone: " + errno_text(clone_errno));
        }
        state->pid = pid;
        state->pidfd = Fd(pidfd);
        if (spawn.error != 0) {
            siginfo_t info{};
            waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | __WALL);
            state->pid = -1;
            state->pidfd.reset();
            if (namespaces && spawn.stage != std::string_view("exec")) {
                state->degraded.push_back("user namespace unusable (" + std::string(spawn.stage) +
                                          ": " + errno_text(spawn.error) +
                                          "): no mount, PID or network namespace");
                namespaces = false;
                continue;
            }
            throw SandboxError("cannot start the sandbox's init program: " +
                               std::string(spawn.stage) + ": " + errno_text(spawn.error));
        }
        state->namespaces = namespaces;
        state->out = std::move(out.read);
        state->err = std::move(err.read);
        state->status = std::move(status.read);
        for (const int fd : {state->out.get(), state->err.get(), state->status.get()}) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
        Protection& p = state->protection;
        p.user_namespace = p.mount_namespace = p.pid_namespace = p.ipc_namespace = namespaces;
        p.network_namespace = namespaces && !policy.network;
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
            "no mount namespace: secrets are unreadable (Landlock) but their names listable, "
            ".git is writable, host sockets under /run stay reachable, /tmp is replaced by " +
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
bool Process::has_new_output() const {
    return state_->out_capture.has_new() || state_->err_capture.has_new();
}

void Process::stop(EndReason why) {
    State& s = *state_;
    if (s.exited) {
        return;
    }
    if (!s.forced) {
        s.forced = why;
    }
    if (why == EndReason::stopped && s.limits.stop_grace.count() > 0) {
        // Graceful: init sends SIGTERM to the tree, waits stop_grace, then kills what is left.
        // A second stop() during the grace period kills at once.
        if (!s.graceful) {
            s.graceful = true;
            send_kill(*this, SIGTERM);
            s.kill_at = Clock::now() + s.limits.stop_grace + std::chrono::milliseconds(1000);
            return;
        }
    }
    if (s.namespaces) {
        send_kill(*this, SIGKILL);  // init dies, the kernel kills the rest of the namespace
    } else {
        send_kill(*this, SIGUSR2);  // init kills its descendants, then exits
        const auto soon = Clock::now() + std::chrono::milliseconds(500);
        if (!s.kill_at || *s.kill_at > soon) {
            s.kill_at = soon;
        }
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
            r.signal = s.graceful ? SIGTERM : SIGKILL;
            r.exit_code = 128 + r.signal;
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
