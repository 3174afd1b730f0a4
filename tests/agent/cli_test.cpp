// Drives the built `osprey` binary as a user or script would: exit codes, stdout/stderr, JSON.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "kernels/backends.hpp"
#include "kernels/cuda/cuda_probe.hpp"
#include "tests/support/run_process.hpp"

using osprey::test::run_process;

namespace {

osprey::test::ProcessResult osprey_cli(std::vector<std::string> args) {
    args.insert(args.begin(), OSPREY_BINARY);
    return run_process(args);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("osprey --version shows version, commit and the compiled backends") {
    const auto r = osprey_cli({"--version"});
    REQUIRE(r.exit_code == 0);
    INFO(r.out);
    CHECK(r.out.rfind("osprey 0.1.0 (commit ", 0) == 0);
    CHECK(contains(r.out, "backends: cpu ("));
    if (osprey::kernels::cuda_compiled()) {
        // e.g. "cuda (sm_80 sm_90a; CUDA 13.0 + cuBLASLt)"
        CHECK(contains(r.out, "cuda (" + std::string(OSPREY_TEST_CUDA_ARCHS) + "; CUDA "));
    } else {
        CHECK(contains(r.out, "cuda: not compiled: this build has no CUDA backend"));
    }
    // Reporting what was compiled never probes for a device.
    CHECK_FALSE(contains(r.out + r.err, "no CUDA device"));
    CHECK(osprey_cli({"version"}).out == r.out);
}

TEST_CASE("osprey version --json is machine-readable") {
    const auto r = osprey_cli({"version", "--json"});
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("version") == "0.1.0");
    CHECK(j.at("commit").get<std::string>().size() >= 7);
    CHECK(j.at("backends").at(0).at("name") == "cpu");
    CHECK(j.at("backends").size() == (osprey::kernels::cuda_compiled() ? 2U : 1U));
}

TEST_CASE("osprey --help lists the subcommands") {
    const auto r = osprey_cli({"--help"});
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "Usage: osprey <command>"));
    CHECK(contains(r.out, "\n  devices "));
    CHECK(contains(r.out, "\n  version "));
    CHECK(contains(r.out, "\n  help "));
    CHECK(r.err.empty());
}

TEST_CASE("unknown subcommands and flags exit 2 with usage on stderr") {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"frobnicate"},
                                                 {"--frobnicate"},
                                                 {"version", "--frobnicate"},
                                                 {"devices", "--backend"},
                                                 {"devices", "--backend", "tpu"},
                                                 {}}) {
        const auto r = osprey_cli(args);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(contains(r.err, "--help"));
    }
}

TEST_CASE("asking for the CUDA backend says 'no CUDA device' when there is none") {
    const bool have_device = !osprey::kernels::probe_cuda().devices.empty();
    const auto r = osprey_cli({"devices", "--backend", "cuda"});
    if (have_device) {
        CHECK(r.exit_code == 0);
        CHECK(contains(r.out, "cuda:0: "));
        return;
    }
    CHECK(r.exit_code == 1);
    if (osprey::kernels::cuda_compiled()) {
        CHECK(contains(r.err, "cuda: no CUDA device ("));
    } else {
        CHECK(contains(r.err, "this build has no CUDA backend"));
    }
    const auto check = osprey_cli({"devices", "check", "--backend", "cuda"});
    CHECK(check.exit_code == 1);
    CHECK((contains(check.err, "no CUDA device") || contains(check.err, "no CUDA backend")));
    // The cpu backend still works on such a machine.
    const auto cpu = osprey_cli({"devices", "--backend", "cpu"});
    CHECK(cpu.exit_code == 0);
    CHECK(contains(cpu.out, "cpu: "));
    CHECK_FALSE(contains(cpu.out + cpu.err, "CUDA"));
}

TEST_CASE("osprey devices --json lists cpu and the cuda probe") {
    const auto r = osprey_cli({"devices", "--json"});
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("cpu").at("logical_cores").get<int>() >= 1);
    CHECK(j.at("cuda").at("compiled") == osprey::kernels::cuda_compiled());
    if (j.at("cuda").at("devices").empty()) {
        CHECK_FALSE(j.at("cuda").at("reason").get<std::string>().empty());
    }
}
