#pragma once
// The plan the sandbox's init program follows, decided by the parent (sandbox::Process::start)
// and handed over serialized on a memfd: the mount operations, Landlock rules, the compiled
// seccomp program, rlimits and the command. Shared by both sides; no project includes beyond
// the sandbox layer.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::sandbox::init {

// Descriptors of the init process (set up by the parent before the exec).
inline constexpr int kPlanFd = 3;
inline constexpr int kStatusFd = 4;  // lines: "prot X", "note ...", "error ...", then the end
inline constexpr int kStdinFd = 5;
inline constexpr int kStdoutFd = 6;
inline constexpr int kStderrFd = 7;
inline constexpr int kMaxSlots = 32;

enum class Op : std::uint32_t {
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
    Op op = Op::mkdir;
    std::string path;
    std::string arg;
    std::int32_t slot = -1;
    bool fatal = true;  // a failure aborts the run (e.g. a secret that cannot be hidden)
};

struct LandlockRule {
    std::string path;
    std::uint64_t access = 0;
};

struct Limit {
    std::int32_t resource = 0;
    std::uint64_t value = 0;
};

struct Plan {
    bool namespaces = false;
    std::string exe;
    std::string cwd;
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::vector<MountOp> ops;
    int landlock_abi = 0;
    bool landlock_fatal = false;
    std::uint64_t landlock_fs = 0;
    std::uint64_t landlock_net = 0;
    std::uint64_t landlock_scoped = 0;
    std::vector<LandlockRule> rules;
    std::vector<std::uint64_t> seccomp;  // struct sock_filter entries
    bool seccomp_fatal = false;
    std::vector<Limit> limits;
    std::int64_t max_processes = 0;  // the watchdog's cap (0: none)
    std::int64_t stop_grace_ms = 0;  // SIGTERM -> SIGKILL delay of a graceful stop
    bool bring_lo_up = false;
    bool drop_caps = false;
    std::int32_t cap_last = 40;
};

namespace detail {

inline void put(std::string& out, std::uint64_t v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
inline void put(std::string& out, std::string_view s) {
    put(out, static_cast<std::uint64_t>(s.size()));
    out.append(s);
}

struct Reader {
    std::string_view in;
    bool ok = true;
    std::uint64_t u64() {
        std::uint64_t v = 0;
        if (in.size() < sizeof v) {
            ok = false;
            return 0;
        }
        std::memcpy(&v, in.data(), sizeof v);
        in.remove_prefix(sizeof v);
        return v;
    }
    std::string str() {
        const std::uint64_t n = u64();
        if (!ok || n > in.size()) {
            ok = false;
            return {};
        }
        std::string s(in.substr(0, n));
        in.remove_prefix(n);
        return s;
    }
    std::size_t count() {
        const std::uint64_t n = u64();
        if (n > in.size()) {  // every element takes at least a byte: a sanity bound
            ok = false;
            return 0;
        }
        return static_cast<std::size_t>(n);
    }
};

}  // namespace detail

inline constexpr std::uint64_t kPlanMagic = 0x314e414c50534fULL;  // "OSPLAN1"

inline std::string serialize(const Plan& p) {
    using detail::put;
    std::string out;
    put(out, kPlanMagic);
    put(out, p.namespaces);
    put(out, p.exe);
    put(out, p.cwd);
    for (const auto* list : {&p.argv, &p.env}) {
        put(out, list->size());
        for (const auto& s : *list) {
            put(out, s);
        }
    }
    put(out, p.ops.size());
    for (const auto& op : p.ops) {
        put(out, static_cast<std::uint64_t>(op.op));
        put(out, op.path);
        put(out, op.arg);
        put(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(op.slot)));
        put(out, op.fatal);
    }
    put(out, static_cast<std::uint64_t>(p.landlock_abi));
    put(out, p.landlock_fatal);
    put(out, p.landlock_fs);
    put(out, p.landlock_net);
    put(out, p.landlock_scoped);
    put(out, p.rules.size());
    for (const auto& r : p.rules) {
        put(out, r.path);
        put(out, r.access);
    }
    put(out, p.seccomp.size());
    for (const auto v : p.seccomp) {
        put(out, v);
    }
    put(out, p.seccomp_fatal);
    put(out, p.limits.size());
    for (const auto& l : p.limits) {
        put(out, static_cast<std::uint64_t>(l.resource));
        put(out, l.value);
    }
    put(out, static_cast<std::uint64_t>(p.max_processes));
    put(out, p.bring_lo_up);
    put(out, p.drop_caps);
    put(out, static_cast<std::uint64_t>(p.cap_last));
    put(out, static_cast<std::uint64_t>(p.stop_grace_ms));
    return out;
}

inline std::optional<Plan> deserialize(std::string_view bytes) {
    detail::Reader in{bytes};
    Plan p;
    if (in.u64() != kPlanMagic) {
        return std::nullopt;
    }
    p.namespaces = in.u64() != 0;
    p.exe = in.str();
    p.cwd = in.str();
    for (auto* list : {&p.argv, &p.env}) {
        const std::size_t n = in.count();
        for (std::size_t i = 0; i < n && in.ok; ++i) {
            list->push_back(in.str());
        }
    }
    const std::size_t ops = in.count();
    for (std::size_t i = 0; i < ops && in.ok; ++i) {
        MountOp op;
        op.op = static_cast<Op>(in.u64());
        op.path = in.str();
        op.arg = in.str();
        op.slot = static_cast<std::int32_t>(static_cast<std::int64_t>(in.u64()));
        op.fatal = in.u64() != 0;
        if (op.slot >= kMaxSlots) {
            return std::nullopt;
        }
        p.ops.push_back(std::move(op));
    }
    p.landlock_abi = static_cast<int>(in.u64());
    p.landlock_fatal = in.u64() != 0;
    p.landlock_fs = in.u64();
    p.landlock_net = in.u64();
    p.landlock_scoped = in.u64();
    const std::size_t rules = in.count();
    for (std::size_t i = 0; i < rules && in.ok; ++i) {
        LandlockRule r;
        r.path = in.str();
        r.access = in.u64();
        p.rules.push_back(std::move(r));
    }
    const std::size_t filter = in.count();
    for (std::size_t i = 0; i < filter && in.ok; ++i) {
        p.seccomp.push_back(in.u64());
    }
    p.seccomp_fatal = in.u64() != 0;
    const std::size_t limits = in.count();
    for (std::size_t i = 0; i < limits && in.ok; ++i) {
        Limit l;
        l.resource = static_cast<std::int32_t>(in.u64());
        l.value = in.u64();
        p.limits.push_back(l);
    }
    p.max_processes = static_cast<std::int64_t>(in.u64());
    p.bring_lo_up = in.u64() != 0;
    p.drop_caps = in.u64() != 0;
    p.cap_last = static_cast<std::int32_t>(in.u64());
    p.stop_grace_ms = static_cast<std::int64_t>(in.u64());
    if (!in.ok || p.argv.empty()) {
        return std::nullopt;
    }
    return p;
}

}  // namespace osprey::sandbox::init
