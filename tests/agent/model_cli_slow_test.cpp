// `osprey model make-tiny` + `logits` with the real vocabulary: slower (two 66 MB matrices).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/npy.hpp"
#include "tests/model/golden_compare.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

osprey::test::ProcessResult osprey_cli(std::vector<std::string> args) {
    args.insert(args.begin(), OSPREY_BINARY);
    return osprey::test::run_process(args);
}

json small_config() {
    std::ifstream in(fs::path(OSPREY_SHARED_DIR) / "golden" / "tiny-a" / "config.json");
    std::stringstream b;
    b << in.rdbuf();
    json c = json::parse(b.str());
    c["compress_ratios"] = {0, 4, 8, 4, 0};
    return c;
}

}  // namespace

TEST_CASE("make-tiny with the real 129,280 vocabulary runs end to end, any chunking") {
    osprey::test::TempDir tmp;
    json cfg = small_config();
    cfg["vocab_size"] = 129280;
    const fs::path dir = tmp.path() / "m";
    REQUIRE(osprey_cli({"model", "make-tiny", "--out", dir.string(), "--config", cfg.dump()})
                .exit_code == 0);
    const fs::path tokens = tmp.path() / "t.json";
    std::ofstream(tokens) << "[0, 128803, 19923, 3, 223, 5464, 128804, 128822, 100, 129279, 7, 8]";
    const fs::path whole = tmp.path() / "whole.npy";
    const fs::path chunked = tmp.path() / "chunked.npy";
    REQUIRE(osprey_cli({"model", "logits", dir.string(), "--tokens", tokens.string(), "--out",
                        whole.string(), "--numerics", "fp32"})
                .exit_code == 0);
    REQUIRE(osprey_cli({"model", "logits", dir.string(), "--tokens", tokens.string(), "--out",
                        chunked.string(), "--numerics", "fp32", "--prefill", "9", "--chunk", "2"})
                .exit_code == 0);
    const auto a = osprey::model::read_npy_f32(whole);
    const auto b = osprey::model::read_npy_f32(chunked);
    REQUIRE(a.shape == std::vector<std::int64_t>{12, 129280});
    REQUIRE(b.shape == a.shape);
    const auto s = osprey::test::compare_rows(b.data.data(), a.data.data(), 12, 129280);
    CHECK(s.max_rel() <= 1e-5);
}
