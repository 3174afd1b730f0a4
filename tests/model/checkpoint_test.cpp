// Config parsing and checkpoint validation: every malformed case gets a clear message naming the
// file and the key or tensor at fault. Malformed copies of tiny-a are made in temp folders.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/config.hpp"
#include "model/safetensors.hpp"
#include "model/weights.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace osprey::model;
using nlohmann::json;

namespace {

const fs::path kTinyA = fs::path(OSPREY_SHARED_DIR) / "golden" / "tiny-a";

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream b;
    b << in.rdbuf();
    return b.str();
}

void write_text(const fs::path& p, const std::string& s) {
    fs::remove(p);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
}

// A copy of tiny-a whose shards are symlinks until a test rewrites one.
class CheckpointCopy {
public:
    CheckpointCopy() {
        for (const auto& e : fs::directory_iterator(kTinyA)) {
            const auto name = e.path().filename().string();
            if (name.ends_with(".safetensors")) {
                fs::create_symlink(e.path(), dir() / name);
            } else if (name == "config.json" || name.ends_with(".index.json")) {
                write_text(dir() / name, read_text(e.path()));
            }
        }
    }
    const fs::path& dir() const { return tmp_.path(); }

    json index() const { return json::parse(read_text(dir() / "model.safetensors.index.json")); }
    void set_index(const json& j) const {
        write_text(dir() / "model.safetensors.index.json", j.dump(1));
    }
    json config() const { return json::parse(read_text(dir() / "config.json")); }
    void set_config(const json& j) const { write_text(dir() / "config.json", j.dump(1)); }
    std::string shard_of(const std::string& tensor) const {
        return index()["weight_map"][tensor].get<std::string>();
    }

    // Reads a shard as (header, data bytes).
    std::pair<json, std::string> shard(const std::string& file) const {
        const std::string bytes = read_text(dir() / file);
        std::uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
    }
    void write_shard(const std::string& file, const json& header, const std::string& data) const {
        std::string h = header.dump();
        const std::uint64_t n = h.size();
        std::string out(8, '\0');
        std::memcpy(out.data(), &n, 8);
        write_text(dir() / file, out + h + data);
    }

private:
    osprey::test::TempDir tmp_;
};

std::string load_error(const fs::path& dir) {
    try {
        load_model(dir);
    } catch (const ModelFormatError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("the golden configs parse with every V4 key") {
    const ModelConfig c = load_config(kTinyA);
    CHECK(c.hidden_size == 256);
    CHECK(c.num_hidden_layers == 4);
    CHECK(c.compress_ratios == std::vector<std::int64_t>{0, 4, 16, 4, 0});
    CHECK(c.kind(0) == AttentionKind::sliding);
    CHECK(c.kind(1) == AttentionKind::csa);
    CHECK(c.kind(2) == AttentionKind::hca);
    CHECK(c.rope_scaling.factor == 16.0);
    CHECK(c.rope_scaling.original_max_position_embeddings == 65536);
    CHECK(c.quantization.block_rows == 128);
    CHECK(c.expert_dtype == "fp4");
    CHECK(c.hash_routed(1));
    CHECK_FALSE(c.hash_routed(2));
    CHECK(c.hc_mix() == 24);
}

TEST_CASE("config errors name the key") {
    const json good = json::parse(read_text(kTinyA / "config.json"));
    auto error_for = [&](const std::function<void(json&)>& edit) {
        json j = good;
        edit(j);
        try {
            parse_config(j.dump(), "cfg.json");
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    CHECK_THAT(error_for([](json& j) { j.erase("hidden_size"); }),
               Catch::Contains("cfg.json: key 'hidden_size' is missing"));
    CHECK_THAT(error_for([](json& j) { j["hidden_size"] = "big"; }),
               Catch::Contains("key 'hidden_size' must be an integer"));
    CHECK_THAT(error_for([](json& j) {
                   j["compress_ratios"] = {0, 4};
               }),
               Catch::Contains("key 'compress_ratios' has 2 entries"));
    CHECK_THAT(error_for([](json& j) { j["compress_ratios"][4] = 4; }),
               Catch::Contains("key 'compress_ratios[4]'"));
    CHECK_THAT(error_for([](json& j) { j["o_groups"] = 3; }), Catch::Contains("key 'o_groups'"));
    CHECK_THAT(error_for([](json& j) { j["num_experts_per_tok"] = 9; }),
               Catch::Contains("key 'num_experts_per_tok'"));
    CHECK_THAT(error_for([](json& j) { j["quantization_config"]["fmt"] = "e5m2"; }),
               Catch::Contains("key 'quantization_config.fmt'"));
    CHECK_THAT(error_for([](json& j) {
                   j["quantization_config"]["weight_block_size"] = {64, 64};
               }),
               Catch::Contains("key 'quantization_config.weight_block_size'"));
    CHECK_THAT(error_for([](json& j) { j["rope_scaling"].erase("factor"); }),
               Catch::Contains("key 'rope_scaling.factor' is missing"));
    CHECK_THAT(error_for([](json& j) { j["expert_dtype"] = "int4"; }),
               Catch::Contains("key 'expert_dtype'"));
    CHECK_THAT(error_for([](json& j) { j["model_type"] = "deepseek_v3"; }),
               Catch::Contains("key 'model_type'"));
    CHECK_THAT(error_for([](json& j) { j["scoring_func"] = "softmax"; }),
               Catch::Contains("key 'scoring_func'"));
    CHECK_THAT(error_for([](json& j) { j["qk_rope_head_dim"] = 63; }),
               Catch::Contains("key 'qk_rope_head_dim'"));
    CHECK_THAT(error_for([](json& j) { j["index_head_dim"] = 96; }),
               Catch::Contains("key 'index_head_dim'"));
    CHECK_THAT(error_for([](json& j) { j["num_hash_layers"] = 7; }),
               Catch::Contains("key 'num_hash_layers'"));
    CHECK_THAT(error_for([](json& j) { j["num_key_value_heads"] = 4; }),
               Catch::Contains("key 'num_key_value_heads'"));
    CHECK_THAT(error_for([](json&) {}), Catch::Equals("(no error)"));
    CHECK_THROWS_WITH(parse_config("{", "cfg.json"), Catch::Contains("cfg.json: not valid JSON"));
}

TEST_CASE("the golden checkpoints load and validate") {
    for (const char* name : {"tiny-a", "tiny-b"}) {
        const auto w = load_model(fs::path(OSPREY_SHARED_DIR) / "golden" / name);
        CHECK(w->layers.size() == static_cast<std::size_t>(w->config.num_hidden_layers));
        CHECK(w->mtp.size() == 1);
        CHECK(w->checkpoint->tensors().size() == expected_tensors(w->config).size());
    }
}

TEST_CASE("a truncated shard is reported with its file name") {
    CheckpointCopy c;
    const std::string file = c.shard_of("layers.2.attn.wq_a.weight");
    std::string bytes = read_text(c.dir() / file);
    write_text(c.dir() / file, bytes.substr(0, bytes.size() - 100));
    const std::string e = load_error(c.dir());
    CHECK_THAT(
        e, Catch::Contains(file) && Catch::Contains("truncated") && Catch::Contains("tensor '"));
    write_text(c.dir() / file, bytes.substr(0, 1000));
    CHECK_THAT(load_error(c.dir()), Catch::Contains(file) && Catch::Contains("truncated: header"));
    write_text(c.dir() / file, bytes.substr(0, 5));
    CHECK_THAT(load_error(c.dir()), Catch::Contains(file) && Catch::Contains("truncated"));
}

TEST_CASE("a missing tensor is named") {
    CheckpointCopy c;
    const std::string t = "layers.1.attn.indexer.wq_b.scale";
    const std::string file = c.shard_of(t);
    auto [h, data] = c.shard(file);
    h.erase(t);
    c.write_shard(file, h, data);
    json idx = c.index();
    idx["weight_map"].erase(t);
    idx.erase("metadata");
    c.set_index(idx);
    CHECK_THAT(load_error(c.dir()), Catch::Contains("missing tensor '" + t + "'"));
}

TEST_CASE("a tensor the index lists but the shard lacks is named with the file") {
    CheckpointCopy c;
    const std::string t = "layers.0.attn.wkv.weight";
    const std::string file = c.shard_of(t);
    auto [h, data] = c.shard(file);
    h.erase(t);
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()),
               Catch::Contains(file) && Catch::Contains("missing tensor '" + t + "'"));
}

TEST_CASE("an extra tensor is named with its file") {
    CheckpointCopy c;
    const std::string file = c.shard_of("layers.0.attn.wkv.weight");
    auto [h, data] = c.shard(file);
    h["layers.0.attn.bogus.weight"] = {
        {"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {data.size(), data.size() + 16}}};
    data.append(16, '\0');
    c.write_shard(file, h, data);
    json idx = c.index();
    idx["weight_map"]["layers.0.attn.bogus.weight"] = file;
    idx.erase("metadata");
    c.set_index(idx);
    CHECK_THAT(load_error(c.dir()),
               Catch::Contains(file) && Catch::Contains("unexpected tensor 'layers.0.attn.bogus"));
}

TEST_CASE("a tensor in a shard but not in the index is rejected") {
    CheckpointCopy c;
    const std::string file = c.shard_of("layers.0.attn.wkv.weight");
    auto [h, data] = c.shard(file);
    h["layers.0.attn.stray"] = {
        {"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {data.size(), data.size() + 16}}};
    data.append(16, '\0');
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()),
               Catch::Contains(file) && Catch::Contains("'layers.0.attn.stray' is not listed"));
}

TEST_CASE("a wrong shape is reported with file, tensor, got and expected") {
    CheckpointCopy c;
    const std::string t = "layers.0.attn.wq_a.weight";  // [128, 256]
    const std::string file = c.shard_of(t);
    auto [h, data] = c.shard(file);
    h[t]["shape"] = {256, 128};
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()), Catch::Contains(file + ": tensor '" + t +
                                                    "' has shape [256, 128], expected [128, 256]"));
}

TEST_CASE("a wrong dtype is reported with file, tensor, got and expected") {
    CheckpointCopy c;
    const std::string t = "layers.0.attn.wq_a.weight";
    const std::string file = c.shard_of(t);
    auto [h, data] = c.shard(file);
    h[t]["dtype"] = "I8";
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()),
               Catch::Contains(file + ": tensor '" + t + "' has dtype I8, expected F8_E4M3"));
    h[t]["dtype"] = "F16";
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()), Catch::Contains(file) && Catch::Contains("unsupported dtype"));
}

TEST_CASE("data offsets that disagree with shape and dtype are rejected") {
    CheckpointCopy c;
    const std::string t = "layers.0.attn.attn_sink";
    const std::string file = c.shard_of(t);
    auto [h, data] = c.shard(file);
    const auto b = h[t]["data_offsets"][0].get<std::uint64_t>();
    h[t]["data_offsets"] = {b, b + 12};
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()), Catch::Contains(file) && Catch::Contains("tensor '" + t) &&
                                        Catch::Contains("needs 16"));
}

TEST_CASE("index problems: missing shard, bad JSON, wrong total size, missing index") {
    {
        CheckpointCopy c;
        fs::remove(c.dir() / "model-00003-of-00006.safetensors");
        CHECK_THAT(load_error(c.dir()),
                   Catch::Contains("model-00003-of-00006.safetensors: missing shard"));
    }
    {
        CheckpointCopy c;
        write_text(c.dir() / "model.safetensors.index.json", "{ nope");
        CHECK_THAT(load_error(c.dir()),
                   Catch::Contains("model.safetensors.index.json: not valid JSON"));
    }
    {
        CheckpointCopy c;
        json idx = c.index();
        idx["metadata"]["total_size"] = 12;
        c.set_index(idx);
        CHECK_THAT(load_error(c.dir()), Catch::Contains("metadata.total_size is 12"));
    }
    {
        CheckpointCopy c;
        fs::remove(c.dir() / "model.safetensors.index.json");
        CHECK_THAT(load_error(c.dir()), Catch::Contains("not a checkpoint folder"));
    }
    {
        CheckpointCopy c;
        json cfg = c.config();
        cfg["hidden_size"] = 512;
        c.set_config(cfg);
        CHECK_THAT(load_error(c.dir()),
                   Catch::Contains("has shape") && Catch::Contains("expected"));
    }
}

TEST_CASE("hash routing tables with out-of-range expert ids are rejected") {
    CheckpointCopy c;
    const std::string t = "layers.0.ffn.gate.tid2eid";
    const std::string file = c.shard_of(t);
    auto [h, data] = c.shard(file);
    const auto b = h[t]["data_offsets"][0].get<std::uint64_t>();
    const std::int64_t bad = 99;
    std::memcpy(data.data() + b, &bad, 8);
    c.write_shard(file, h, data);
    CHECK_THAT(load_error(c.dir()), Catch::Contains(file) && Catch::Contains("expert id 99"));
}
