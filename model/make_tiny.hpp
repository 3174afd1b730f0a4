#pragma once
// Writes a random-weight checkpoint in the released format (config.json, safetensors shards with an
// index) for any valid V4 config: tiny models for end-to-end tests, V4-shaped "mini" models for
// benchmarks. FP8 and FP4 weights are quantized with the official power-of-two block-scale rules.

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace osprey::model {

struct MakeTinyResult {
    std::int64_t tensors = 0;
    std::int64_t bytes = 0;
    std::int64_t shards = 0;
};

// `config_json` is the text of a HF config.json (validated first; ConfigError on problems). The
// output folder is created if needed; existing checkpoint files in it are replaced.
MakeTinyResult make_tiny_checkpoint(std::string_view config_json,
                                    const std::filesystem::path& out_dir, std::uint64_t seed);

}  // namespace osprey::model
