#include "sandbox/probe.hpp"

#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sstream>

#include "sandbox/landlock.hpp"
#include "sandbox/seccomp_filter.hpp"

namespace osprey::sandbox {
namespace {

std::string yes_no(bool ok) {
    return ok ? "yes" : "NO";
}

}  // namespace

bool ProbeReport::fully_protected() const {
    const Protection& p = workspace_write;
    return error.empty() && p.user_namespace && p.mount_namespace && p.pid_namespace &&
           p.network_namespace && p.ipc_namespace && p.proc_mounted && p.seccomp &&
           p.landlock_abi > 0 && p.no_new_privs;
}

ProbeReport probe() {
    ProbeReport report;
    utsname u{};
    if (uname(&u) == 0) {
        report.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
    }
    // Run a real command under workspace-write in a scratch workspace: the most honest answer.
    char dir[] = "/tmp/osprey-probe-XXXXXX";
    const bool have_dir = mkdtemp(dir) != nullptr;
    Policy policy;
    policy.workspace = have_dir ? dir : "/";
    policy.limits.timeout = std::chrono::seconds(10);
    RunResult r;
    try {
        Command c;
        c.argv = {access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true"};
        r = run(c, policy);
        if (!r.ok()) {
            report.error = "the probe command failed: " + std::string(to_string(r.reason)) +
                           (r.setup_error.empty() ? "" : " (" + r.setup_error + ")");
        }
    } catch (const std::exception& e) {
        report.error = e.what();
    }
    if (have_dir) {
        rmdir(dir);
    }
    report.workspace_write = r.protection;
    report.degraded = r.degraded;
    const Protection& p = r.protection;
    auto add = [&](std::string name, bool ok, std::string detail) {
        report.mechanisms.push_back({std::move(name), ok, std::move(detail)});
    };
    add("user namespace", p.user_namespace,
        p.user_namespace ? "commands run as their own user, without capabilities"
                         : "unavailable (kernel.unprivileged_userns_clone, a container's seccomp, "
                           "or user.max_user_namespaces=0)");
    add("mount namespace", p.mount_namespace,
        p.mount_namespace ? "read-only root, writable workspace, private /tmp, minimal /dev, "
                            "secrets hidden"
                          : "unavailable: Landlock is the only filesystem layer");
    add("pid namespace", p.pid_namespace,
        p.pid_namespace ? "the whole tree dies with the sandbox's init"
                        : "unavailable: process-group and subreaper kill instead");
    add("private /proc", p.proc_mounted,
        p.proc_mounted ? "only the sandbox's processes are visible" : "the host's /proc is seen");
    add("network namespace", p.network_namespace,
        p.network_namespace ? std::string("no network; loopback ") + (p.loopback ? "up" : "down")
                            : "unavailable");
    add("ipc namespace", p.ipc_namespace, p.ipc_namespace ? "private System V IPC" : "unavailable");
    const int abi = landlock::abi_version();
    add("landlock", p.landlock_abi > 0,
        abi > 0
            ? "ABI " + std::to_string(abi) + (p.landlock_abi > 0 ? " in force" : " (not applied)")
            : "not supported by this kernel (or disabled: lsm= boot option)");
    const scmp_version* v = seccomp_version();
    add("seccomp", p.seccomp,
        "libseccomp " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
            std::to_string(v->micro) + ", API level " + std::to_string(seccomp_api_get()) + "; " +
            std::to_string(denied_syscalls().size()) + " system calls denied" +
            (p.seccomp ? "" : " — NOT in force"));
    add("no_new_privs", p.no_new_privs, p.no_new_privs ? "setuid binaries gain nothing" : "");
    add("rlimits", p.rlimits, "CPU time, address space, processes, file size, open files");
    return report;
}

std::string format_report(const ProbeReport& report) {
    std::ostringstream out;
    out << "sandbox check (" << report.kernel << ")\n";
    std::size_t width = 0;
    for (const auto& m : report.mechanisms) {
        width = std::max(width, m.name.size());
    }
    for (const auto& m : report.mechanisms) {
        out << "  " << m.name << std::string(width - m.name.size() + 2, ' ') << yes_no(m.available)
            << (m.detail.empty() ? "" : "  " + m.detail) << "\n";
    }
    if (!report.error.empty()) {
        out << "error: " << report.error << "\n";
    }
    for (const auto& d : report.degraded) {
        out << "degraded: " << d << "\n";
    }
    out << "protection: "
        << (report.fully_protected()
                ? "full (read-only and workspace-write confine filesystem, network, processes "
                  "and system calls)"
                : "PARTIAL: commands run under the layers marked yes; a policy with `require` "
                  "fails closed instead")
        << "\n";
    return out.str();
}

}  // namespace osprey::sandbox
