// `osprey model ...` driven from outside, as scripts and the golden checks use it.
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
using osprey::test::run_process;

namespace {

const fs::path kGolden = fs::path(OSPREY_SHARED_DIR) / "golden";

osprey::test::ProcessResult osprey_cli(std::vector<std::string> args) {
    args.insert(args.begin(), OSPREY_BINARY);
    return run_process(args);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream b;
    b << in.rdbuf();
    return b.str();
}

// A small config in the V4 format (5 layers: SWA, CSA, HCA, CSA + an MTP block).
json small_config() {
    json c = json::parse(read_file(kGolden / "tiny-a" / "config.json"));
    c["vocab_size"] = 300;
    c["compress_ratios"] = {0, 4, 8, 4, 0};
    return c;
}

}  // namespace

TEST_CASE("osprey model info prints the checkpoint summary as JSON") {
    const auto r = osprey_cli({"model", "info", (kGolden / "tiny-a").string()});
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j.at("model_type") == "deepseek_v4");
    CHECK(j.at("config").at("hidden_size") == 256);
    CHECK(j.at("parameters").get<std::int64_t>() > 1000000);
    CHECK(j.at("bytes_by_dtype").at("I8").get<std::int64_t>() > 0);
    CHECK(j.at("kv_bytes_per_token").at("bf16_reference").get<double>() > 0.0);
    std::vector<std::string> kinds;
    for (const auto& l : j.at("layers")) {
        kinds.push_back(l.at("kind").get<std::string>());
    }
    CHECK(kinds == std::vector<std::string>{"swa", "csa", "hca", "csa", "swa"});
    CHECK(j.at("layers").at(4).at("block") == "mtp");
}

TEST_CASE("osprey model info exits 2 naming the file of a malformed checkpoint") {
    osprey::test::TempDir tmp;
    for (const auto& e : fs::directory_iterator(kGolden / "tiny-a")) {
        fs::copy(e.path(), tmp.path() / e.path().filename());
    }
    const fs::path shard = tmp.path() / "model-00004-of-00006.safetensors";
    const std::string bytes = read_file(shard);
    fs::permissions(shard, fs::perms::owner_write, fs::perm_options::add);
    std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
    const auto r = osprey_cli({"model", "info", tmp.path().string()});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "model-00004-of-00006.safetensors"));
    CHECK(contains(r.err, "truncated"));
    const auto l = osprey_cli({"model", "logits", tmp.path().string(), "--tokens",
                               (kGolden / "tiny-a" / "prompt_ids.npy").string(), "--out",
                               (tmp.path() / "x.npy").string()});
    CHECK(l.exit_code == 2);
    CHECK_FALSE(fs::exists(tmp.path() / "x.npy"));
}

TEST_CASE("osprey model logits: prefill in chunks then teacher-forced decode (fp32 golden)") {
    osprey::test::TempDir tmp;
    const fs::path out = tmp.path() / "logits.npy";
    const auto r =
        osprey_cli({"model", "logits", (kGolden / "tiny-a").string(), "--tokens",
                    (kGolden / "tiny-a" / "prompt_ids.npy").string(), "--out", out.string(),
                    "--prefill", "150", "--chunk", "7", "--numerics", "fp32"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto got = osprey::model::read_npy_f32(out);
    const auto ref = osprey::model::read_npy_f32(kGolden / "tiny-a" / "fp32ref_prefill_logits.npy");
    REQUIRE(got.shape == ref.shape);
    const auto s = osprey::test::compare_rows(got.data.data(), ref.data.data(), 160, 512);
    CHECK(s.max_rel() <= 1e-4);
    CHECK(s.agreement() == 1.0);
}

TEST_CASE("osprey model logits --mtp writes the MTP logits of positions 0..P-2") {
    osprey::test::TempDir tmp;
    const fs::path out = tmp.path() / "mtp.npy";
    const auto r = osprey_cli({"model", "logits", (kGolden / "tiny-a").string(), "--tokens",
                               (kGolden / "tiny-a" / "prompt_ids.npy").string(), "--out",
                               out.string(), "--mtp"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto got = osprey::model::read_npy_f32(out);
    const auto ref = osprey::model::read_npy_f32(kGolden / "tiny-a" / "mtp_logits.npy");
    REQUIRE(got.shape == ref.shape);
    const auto s = osprey::test::compare_rows(got.data.data(), ref.data.data(), 159, 512);
    CHECK(s.quantile(0.5) <= 0.10);
    CHECK(s.agreement() >= 0.75);
}

TEST_CASE("osprey model logits reads JSON token arrays and rejects bad token files") {
    osprey::test::TempDir tmp;
    const fs::path tokens = tmp.path() / "t.json";
    std::ofstream(tokens) << "[0, 5, 17, 300]";
    const fs::path out = tmp.path() / "o.npy";
    const std::string dir = (kGolden / "tiny-b").string();
    auto r =
        osprey_cli({"model", "logits", dir, "--tokens", tokens.string(), "--out", out.string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(osprey::model::read_npy_f32(out).shape == std::vector<std::int64_t>{4, 512});
    std::ofstream(tokens, std::ios::trunc) << "[0, 9999]";
    r = osprey_cli({"model", "logits", dir, "--tokens", tokens.string(), "--out", out.string()});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "token id 9999"));
    std::ofstream(tokens, std::ios::trunc) << "not json";
    r = osprey_cli({"model", "logits", dir, "--tokens", tokens.string(), "--out", out.string()});
    CHECK(r.exit_code == 2);
    r = osprey_cli({"model", "logits", dir, "--tokens", tokens.string()});
    CHECK(r.exit_code == 2);
    r = osprey_cli({"model", "logits", dir, "--tokens", tokens.string(), "--out", out.string(),
                    "--numerics", "fp16"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "fp16"));
}

TEST_CASE("osprey model make-tiny writes a loadable checkpoint, deterministic per seed") {
    osprey::test::TempDir tmp;
    const std::string cfg = small_config().dump();
    const fs::path a = tmp.path() / "a";
    const fs::path b = tmp.path() / "b";
    REQUIRE(osprey_cli({"model", "make-tiny", "--out", a.string(), "--config", cfg, "--seed", "3"})
                .exit_code == 0);
    REQUIRE(osprey_cli({"model", "make-tiny", "--out", b.string(), "--config", cfg, "--seed", "3"})
                .exit_code == 0);
    CHECK(read_file(a / "model-00002-of-00006.safetensors") ==
          read_file(b / "model-00002-of-00006.safetensors"));
    const auto info = osprey_cli({"model", "info", a.string()});
    REQUIRE(info.exit_code == 0);
    CHECK(json::parse(info.out).at("config").at("vocab_size") == 300);
    // The random model runs end to end and generation is reproducible per seed.
    const fs::path prompt = tmp.path() / "p.json";
    std::ofstream(prompt) << "[0, 11, 22, 33, 44, 55, 66, 77, 88]";
    const std::vector<std::string> gen = {
        "model", "generate", a.string(), "--prompt-tokens", prompt.string(), "-n", "6", "--temp",
        "0.8",   "--seed",   "42"};
    const auto g1 = osprey_cli(gen);
    const auto g2 = osprey_cli(gen);
    INFO(g1.err);
    REQUIRE(g1.exit_code == 0);
    CHECK(g1.out == g2.out);
    CHECK(contains(g1.err, "tok/s"));
    const auto bench =
        osprey_cli({"model", "bench", a.string(), "--prompt", "16", "--gen", "4", "--json"});
    INFO(bench.err);
    REQUIRE(bench.exit_code == 0);
    const auto bj = json::parse(bench.out);
    CHECK(bj.at("decode_weight_gb_per_second").get<double>() > 0.0);
    CHECK(bj.at("memcpy_gb_per_second").get<double>() > 0.0);
    CHECK(bj.at("kv_tokens") == 20);
    // A bad config names the key.
    json bad = small_config();
    bad.erase("hidden_size");
    const auto r = osprey_cli(
        {"model", "make-tiny", "--out", (tmp.path() / "c").string(), "--config", bad.dump()});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "hidden_size"));
}
