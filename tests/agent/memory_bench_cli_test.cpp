// `osprey bench memory` from outside: a small run prints every figure and a resumed session whose
// next-step logits equal the original's; bad counts are usage errors.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/run_process.hpp"

using osprey::test::run_process;

TEST_CASE("osprey bench memory prints its figures") {
    const auto r = run_process({OSPREY_BINARY, "bench", "memory", "--events", "20", "--state-mb",
                                "2", "--resume-tokens", "300", "--threads", "2", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("load_average").size() == 3);
    for (const char* mode : {"commit_now", "batched"}) {
        const auto& m = j.at("journal").at(mode);
        CHECK(m.at("events") == 20);
        CHECK(m.at("p50_us").get<double>() > 0);
        CHECK(m.at("p99_us").get<double>() >= m.at("p50_us").get<double>());
    }
    const auto& s = j.at("snapshot");
    CHECK(s.at("file_bytes").get<double>() >= s.at("state_bytes").get<double>());
    CHECK(s.at("restore_gb_per_second").get<double>() > 0);
    const auto& resume = j.at("resume");
    CHECK(resume.at("tokens") == 300);
    CHECK(resume.at("logits_identical") == true);
    CHECK(resume.at("speedup").get<double>() > 1);

    const auto bad = run_process({OSPREY_BINARY, "bench", "memory", "--events", "0"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("--events must be a whole number") != std::string::npos);
}
