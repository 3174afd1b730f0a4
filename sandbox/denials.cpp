#include "sandbox/denials.hpp"

#include <algorithm>
#include <csignal>
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

// The path a message like "touch: cannot touch '/etc/x': Read-only file system" or
// "bash: line 1: /etc/x: Read-only file system" names: the last absolute or quoted path before the
// error text.
std::string path_in(const std::string& line, std::size_t error_at) {
    const std::string head = line.substr(0, error_at);
    std::string best;
    for (std::size_t i = 0; i < head.size(); ++i) {
        const bool quoted = head[i] == '\'' || head[i] == '"' || head[i] == '`';
        const std::size_t start = quoted ? i + 1 : i;
        if (start >= head.size()) {
            break;
        }
        if (!quoted && !(head[i] == '/' && (i == 0 || head[i - 1] == ' '))) {
            continue;
        }
        std::size_t end = start;
        while (end < head.size() && head[end] != '\'' && head[end] != '"' && head[end] != '`' &&
               head[end] != ':' && head[end] != ' ') {
            ++end;
        }
        if (end > start && (head[start] == '/' || quoted)) {
            best = head.substr(start, end - start);
        }
        i = end;
    }
    return best;
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
    for (const std::string& line : lines_of(text)) {
        if (!confined) {
            break;
        }
        if (const auto at = line.find("Read-only file system"); at != std::string::npos) {
            const std::string path = path_in(line, at);
            Denial d;
            d.kind = "fs-write";
            d.what = "write to " +
                     (path.empty() ? std::string("a path outside the writable area") : path);
            const auto protected_it = std::find_if(
                c.read_only.begin(), c.read_only.end(),
                [&](const fs::path& p) { return !path.empty() && is_within(path, p); });
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
            const std::string path = path_in(line, at);
            if (!path.empty() && path.front() == '/' &&
                !std::any_of(c.writable.begin(), c.writable.end(),
                             [&](const fs::path& w) { return is_within(path, w); })) {
                add(r, {"fs-write", "access to " + path,
                        "the sandbox's Landlock rules allow writes only to " +
                            (writable.empty() ? std::string("the private /tmp")
                                              : writable + " and the private /tmp"),
                        "the user can add a permission rule making " + path +
                            " writable, or approve policy full"});
            }
            continue;
        }
        if (const auto at = line.find("No such file or directory"); at != std::string::npos) {
            const std::string path = path_in(line, at);
            const auto hidden = std::find_if(
                c.hidden.begin(), c.hidden.end(),
                [&](const fs::path& h) { return !path.empty() && is_within(path, h); });
            if (hidden != c.hidden.end()) {
                add(r, {"secret", "read " + path,
                        hidden->string() + " is hidden inside the sandbox (credentials never reach "
                                           "commands)",
                        "not allowed in confined policies; the user can run the command "
                        "themselves"});
            }
            continue;
        }
        if (contains(line, "Operation not permitted")) {
            std::string call;
            for (const auto& name : denied_syscalls()) {
                if (line.find(name) != std::string::npos && name.size() > call.size()) {
                    call = name;
                }
            }
            for (const char* tool : {"unshare", "chroot", "mount", "strace", "gdb", "nsenter"}) {
                if (call.empty() && contains(line, tool)) {
                    call = tool;
                }
            }
            add(r, {"syscall", call.empty() ? "a system call (" + line + ")" : call,
                    "the sandbox's seccomp filter denies " +
                        (call.empty() ? std::string("privileged system calls") : call) +
                        " (ptrace, mount, namespaces, kexec, bpf, keyctl, module loading, ...) and "
                        "commands run without capabilities",
                    "not allowed in confined policies; the user can approve policy full"});
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
        for (const char* marker : {"Cannot allocate memory", "MemoryError", "std::bad_alloc",
                                   "out of memory", "Out of memory"}) {
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
