#include "sandbox/denials.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <sstream>

#include "sandbox/seccomp_filter.hpp"

namespace osprey::sandbox {
namespace {

namespace fs = std::filesystem;

bool contains(std::string_view text, std::string_view what) {
    return text.find(what) != std::string_view::npos;
}

bool is_within(const fs::path& path, const fs::path& dir) {
    const std::string p = path.lexically_normal().string();
    const std::string d = dir.lexically_normal().string();
    return p == d || (p.size() > d.size() && p.compare(0, d.size(), d) == 0 &&
                      (d.back() == '/' || p[d.size()] == '/'));
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

// The path a message like "touch: cannot touch '/etc/x': Read-only file system",
// "bash: line 1: /etc/x: Read-only file system" or "sh: 1: cannot create x/y: ..." names: the
// token right before the error text (quoted or not), made absolute against the working directory.
std::string path_in(const std::string& line, std::size_t error_at, const fs::path& cwd) {
    std::string head = line.substr(0, error_at);
    while (!head.empty() && (head.back() == ' ' || head.back() == ':')) {
        head.pop_back();
    }
    // "cannot create x", "cannot touch 'x'", "can't create x": whatever follows names a file.
    for (const char* verb : {"cannot create ", "cannot touch ", "can't create ", "cannot remove ",
                             "cannot make directory "}) {
        if (const auto at = head.rfind(verb); at != std::string::npos) {
            std::string name = head.substr(at + std::strlen(verb));
            if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"')) {
                name = name.substr(1, name.size() - 2);
            }
            if (!name.empty()) {
                const fs::path p(name);
                return (p.is_absolute() ? p : cwd / p).lexically_normal().string();
            }
        }
    }
    std::string token;
    if (!head.empty() && (head.back() == '\'' || head.back() == '"' || head.back() == '`')) {
        const char quote = head.back();
        head.pop_back();
        const auto open = head.rfind(quote == '`' ? '\'' : quote);
        const auto open_tick = head.rfind('`');
        const auto start = open == std::string::npos ? open_tick : open;
        token = start == std::string::npos ? head : head.substr(start + 1);
    } else {
        const auto space = head.rfind(' ');
        token = space == std::string::npos ? head : head.substr(space + 1);
    }
    if (token.empty() || token.find('/') == std::string::npos) {
        // A bare word ("bash", "line 1") is no path unless it names a file in the cwd.
        if (token.empty() || token == head || token.find('.') == std::string::npos) {
            return {};
        }
    }
    const fs::path p(token);
    return (p.is_absolute() ? p : cwd / p).lexically_normal().string();
}

std::string join_paths(const std::vector<fs::path>& paths) {
    std::string out;
    for (const auto& p : paths) {
        out += (out.empty() ? "" : ", ") + p.string();
    }
    return out;
}

void add(RunResult& r, Denial d) {
    const bool seen = std::any_of(r.denials.begin(), r.denials.end(), [&](const Denial& e) {
        return e.kind == d.kind && e.what == d.what;
    });
    if (!seen) {
        r.denials.push_back(std::move(d));
    }
}

}  // namespace

void add_denials(RunResult& r, const DenialContext& c) {
    const std::string writable = join_paths(c.writable);
    const std::string text = r.err + "\n" + r.out;
    const bool confined = c.mode != Mode::full;
    auto within_any = [](const std::string& path, const std::vector<fs::path>& dirs) {
        return std::find_if(dirs.begin(), dirs.end(),
                            [&](const fs::path& d) { return !path.empty() && is_within(path, d); });
    };
    auto secret = [&](const std::string& path) {
        const auto hidden = within_any(path, c.hidden);
        if (hidden == c.hidden.end()) {
            return false;
        }
        add(r, {"secret", "access to " + path,
                hidden->string() + " is hidden inside the sandbox (credentials never reach "
                                   "commands)",
                "not allowed in confined policies; the user can run the command themselves"});
        return true;
    };
    auto syscall_denial = [&](const std::string& line) {
        std::string call;
        for (const auto& name : denied_syscalls()) {
            if (line.find(name) != std::string::npos && name.size() > call.size()) {
                call = name;
            }
        }
        add(r, {"syscall", call.empty() ? "a privileged operation (" + line + ")" : call,
                "the sandbox's seccomp filter denies " +
                    (call.empty() ? std::string("privileged system calls") : call) +
                    " (ptrace, mount, namespaces, chroot, kexec, bpf, keyctl, module loading, "
                    "...) and commands run without capabilities",
                "not allowed in confined policies; the user can approve policy full"});
    };
    for (const std::string& line : lines_of(text)) {
        if (!confined) {
            break;
        }
        // Tools whose only job is a denied system call report it in their own words.
        bool tool_line = false;
        for (const char* tool : {"mount", "umount", "unshare", "chroot", "nsenter", "strace", "gdb",
                                 "pivot_root", "ptrace", "insmod", "modprobe", "kexec"}) {
            const std::string prefix = std::string(tool) + ":";
            if (line.rfind(prefix, 0) == 0 &&
                (contains(line, "ermission denied") || contains(line, "not permitted") ||
                 contains(line, "must be superuser"))) {
                syscall_denial(line);
                tool_line = true;
                break;
            }
        }
        if (tool_line) {
            continue;
        }
        // Without a network namespace seccomp refuses Internet sockets and Landlock TCP connects.
        if (!c.network &&
            (contains(line, "socket") || contains(line, "/dev/tcp/") ||
             contains(line, "/dev/udp/") || contains(line, "connect")) &&
            (contains(line, "Operation not permitted") || contains(line, "Permission denied"))) {
            add(r, {"network", "network access (" + line + ")",
                    "no network in this policy: the sandbox denies Internet sockets (seccomp) and "
                    "TCP connect/bind (Landlock)",
                    "the user can allow network access (policy network: true, `osprey sandbox run "
                    "--network`)"});
            continue;
        }
        if (const auto at = line.find("Read-only file system"); at != std::string::npos) {
            const std::string path = path_in(line, at, c.cwd);
            if (secret(path)) {
                continue;
            }
            Denial d;
            d.kind = "fs-write";
            d.what = "write to " +
                     (path.empty() ? std::string("a path outside the writable area") : path);
            const auto protected_it = within_any(path, c.read_only);
            if (protected_it != c.read_only.end()) {
                d.why = protected_it->string() + " stays read-only under " +
                        std::string(to_string(c.mode)) +
                        " (git metadata and Osprey's config cannot be changed by commands)";
                d.how_to_allow =
                    "run git commands that write (commit, checkout) through the "
                    "user, or use policy full with the user's consent";
            } else {
                d.why = c.mode == Mode::read_only
                            ? "policy read-only: the whole filesystem is read-only except the "
                              "private /tmp"
                            : "policy workspace-write: only " +
                                  (writable.empty() ? std::string("the workspace") : writable) +
                                  " and the private /tmp are writable";
                d.how_to_allow = "the user can add a permission rule making " +
                                 (path.empty() ? std::string("the path") : path) +
                                 " writable (sandbox writable path, `osprey sandbox run --writable "
                                 "PATH`), or approve policy full";
            }
            add(r, d);
            continue;
        }
        if (const auto at = line.find("Permission denied"); at != std::string::npos) {
            const std::string path = path_in(line, at, c.cwd);
            if (secret(path)) {
                continue;
            }
            if (!path.empty() && within_any(path, c.writable) == c.writable.end()) {
                add(r, {"fs-write", "access to " + path,
                        "the sandbox's Landlock rules allow writes only to " +
                            (writable.empty() ? std::string("the private temp folder")
                                              : writable + " and the private temp folder"),
                        "the user can add a permission rule making " + path +
                            " writable, or approve policy full"});
            }
            continue;
        }
        if (const auto at = line.find("No such file or directory"); at != std::string::npos) {
            secret(path_in(line, at, c.cwd));
            continue;
        }
        if (contains(line, "Operation not permitted")) {
            syscall_denial(line);
            continue;
        }
        for (const char* marker :
             {"Network is unreachable", "Connection refused",
              "Temporary failure in name resolution", "Could not resolve",
              "Name or service not known", "No address associated", "Network unreachable",
              "Address family not supported", "network is unreachable"}) {
            if (!c.network && contains(line, marker)) {
                add(r, {"network", "network access (" + std::string(marker) + ")",
                        "no network in this policy: the sandbox has a private network namespace "
                        "with only loopback, so no outside host (nor the host's own 127.0.0.1) "
                        "is reachable and names do not resolve",
                        "the user can allow network access (policy network: true, `osprey "
                        "sandbox run --network`)"});
                break;
            }
        }
        for (const char* marker :
             {"Cannot allocate memory", "MemoryError", "std::bad_alloc", "out of memory",
              "Out of memory", "ReserveShadowMemoryRange", "failed to allocate"}) {
            if (contains(line, marker) && c.limits.memory_bytes > 0) {
                if (r.reason == EndReason::exited || r.reason == EndReason::signaled) {
                    r.reason = EndReason::memory_cap;
                }
                add(r,
                    {"memory-cap", "allocation past the memory cap",
                     "each process may use at most " + std::to_string(c.limits.memory_bytes >> 20) +
                         " MiB of address space (RLIMIT_AS)",
                     "the user can raise the limit (sandbox memory limit)"});
                break;
            }
        }
        for (const char* marker : {"Resource temporarily unavailable", "retry: "}) {
            if (contains(line, marker) && contains(line, "fork")) {
                add(r, {"process-cap", "more processes",
                        "the sandbox allows at most " + std::to_string(c.limits.max_processes) +
                            " processes",
                        "the user can raise the limit (sandbox max processes)"});
                break;
            }
        }
    }
    // Killed by SIGXFSZ itself, or a shell reporting that a child was (128 + signal).
    if ((r.reason == EndReason::signaled && r.signal == SIGXFSZ) ||
        (r.reason == EndReason::exited && r.exit_code == 128 + SIGXFSZ)) {
        add(r,
            {"file-size-cap",
             "a file larger than " + std::to_string(c.limits.file_size_bytes >> 20) + " MiB",
             "RLIMIT_FSIZE ended the process (SIGXFSZ)", "the user can raise the file size limit"});
    }
    switch (r.reason) {
        case EndReason::timeout:
            add(r, {"timeout",
                    "running longer than " +
                        std::to_string(c.limits.timeout.count() / 1000.0).substr(0, 5) + " s",
                    "the wall-clock timeout killed the whole process tree (detached children "
                    "included)",
                    "run it in the background (shell with background: true) or ask the user to "
                    "raise the timeout"});
            break;
        case EndReason::output_cap:
            add(r, {"output-cap",
                    "more than " + std::to_string(c.limits.output_stop_bytes) + " bytes of output",
                    "the output cap stopped the command",
                    "redirect the output to a file and read "
                    "parts of it"});
            break;
        case EndReason::process_cap:
            add(r, {"process-cap",
                    "more than " + std::to_string(c.limits.max_processes) + " processes",
                    "the process cap killed the whole tree (fork bomb protection)",
                    "the user can raise the limit (sandbox max processes)"});
            break;
        case EndReason::cpu_cap:
            add(r, {"cpu-cap", "more than " + std::to_string(c.limits.cpu_seconds) + " s of CPU",
                    "RLIMIT_CPU ended the process", "the user can raise the CPU limit"});
            break;
        default:
            break;
    }
}

std::string RunResult::explain() const {
    std::ostringstream text;
    text << "[sandbox: " << to_string(mode) << "; ended by " << to_string(reason);
    if (reason == EndReason::exited || reason == EndReason::memory_cap) {
        text << " (exit code " << exit_code << ")";
    } else if (signal != 0) {
        text << " (signal " << signal << ")";
    }
    text << " after " << wall.count() << " ms]\n";
    if (!setup_error.empty()) {
        text << "setup error: " << setup_error << "\n";
    }
    if (out_total > out.size() || err_total > err.size()) {
        text << "output cut by the cap (stdout " << out_total << " bytes, stderr " << err_total
             << " bytes in all; the first and last parts are kept)\n";
    }
    for (const auto& d : denials) {
        text << "denied (" << d.kind << "): " << d.what << " — " << d.why
             << ". To allow: " << d.how_to_allow << "\n";
    }
    for (const auto& d : degraded) {
        text << "degraded: " << d << "\n";
    }
    return text.str();
}

}  // namespace osprey::sandbox
