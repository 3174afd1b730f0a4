// `osprey sandbox check|run` and `osprey bench sandbox` driven from outside, as users do.

#include <catch2/catch.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/temp_dir.hpp"

using osprey::test::run_process;
using osprey::test::TempDir;

TEST_CASE("osprey sandbox check reports every layer") {
    const auto r = run_process({OSPREY_BINARY, "sandbox", "check"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    for (const char* layer :
         {"user namespace", "mount namespace", "pid namespace", "network namespace", "landlock",
          "seccomp", "rlimits", "protection: "}) {
        CHECK(r.out.find(layer) != std::string::npos);
    }
    const auto json = run_process({OSPREY_BINARY, "sandbox", "check", "--json"});
    CHECK(json.exit_code == 0);
    CHECK(json.out.find("\"fully_protected\"") != std::string::npos);
}

TEST_CASE("osprey sandbox run passes output and exit status through and explains denials") {
    TempDir ws;
    const auto r =
        run_process({OSPREY_BINARY, "sandbox", "run", "--cwd", ws.path().string(), "--", "sh", "-c",
                     "echo out; echo err >&2; touch /etc/osprey-cli-x; exit 5"});
    CHECK(r.exit_code == 5);
    CHECK(r.out == "out\n");
    CHECK(r.err.find("err\n") == 0);
    CHECK(r.err.find("denied (fs-write): write to /etc/osprey-cli-x") != std::string::npos);
}

TEST_CASE("osprey sandbox run passes its stdin to the command") {
    TempDir ws;
    const std::string script = "printf 'piped input\\n' | '" + std::string(OSPREY_BINARY) +
                               "' sandbox run --cwd '" + ws.path().string() + "' -- tr a-z A-Z";
    const auto r = run_process({"/bin/sh", "-c", script});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "PIPED INPUT\n");
}

TEST_CASE("osprey sandbox run: timeout exits 124, bad usage exits 2, a missing mechanism 1") {
    TempDir ws;
    const auto t = run_process({OSPREY_BINARY, "sandbox", "run", "--cwd", ws.path().string(),
                                "--timeout", "0.3", "--", "sleep", "10"});
    CHECK(t.exit_code == 124);
    CHECK(t.err.find("ended by timeout") != std::string::npos);
    const auto bad =
        run_process({OSPREY_BINARY, "sandbox", "run", "--policy", "open", "--", "true"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("unknown policy 'open'") != std::string::npos);
    const auto none = run_process({OSPREY_BINARY, "sandbox", "run"});
    CHECK(none.exit_code == 2);
    const auto missing = run_process({OSPREY_BINARY, "sandbox", "run", "--cwd", ws.path().string(),
                                      "--", "osprey-no-such-command"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("command not found") != std::string::npos);
}

TEST_CASE("osprey bench sandbox prints the medians") {
    const auto r = run_process({OSPREY_BINARY, "bench", "sandbox", "--runs", "3"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("unconfined: median") != std::string::npos);
    CHECK(r.out.find("sandboxed:  median") != std::string::npos);
    CHECK(r.out.find("added:      median") != std::string::npos);
}
