#include "model/make_tiny.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "kernels/cpu/formats.hpp"
#include "model/config.hpp"
#include "model/weights.hpp"

namespace osprey::model {
namespace {

using nlohmann::json;

// splitmix64: a fast, seedable stream per tensor (deterministic for a given seed and name).
class Rng {
public:
    explicit Rng(std::uint64_t seed) : s_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform with standard deviation `sigma`, centred on `mean`.
    float uniform(float sigma, float mean = 0.0F) {
        const double u = static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
        return mean + static_cast<float>((2.0 * u - 1.0) * std::sqrt(3.0)) * sigma;
    }

private:
    std::uint64_t s_;
};

std::uint64_t hash_name(const std::string& s, std::uint64_t seed) {
    std::uint64_t h = 1469598103934665603ULL ^ seed;
    for (char c : s) {
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::int64_t numel(const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto d : shape) {
        n *= d;
    }
    return n;
}

class Writer {
public:
    Writer(const ModelConfig& c, std::uint64_t seed) : c_(c), seed_(seed) {}

    // Appends the bytes of tensor `e` to `out`.
    void generate(const ExpectedTensor& e, std::string& out) {
        const DType dt = e.dtypes.front();
        Rng rng(hash_name(e.name, seed_));
        const std::int64_t n = numel(e.shape);
        if (dt == DType::f8_e8m0) {
            const std::string base = e.name.substr(0, e.name.size() - 6);  // strip ".scale"
            out += pending_scales_.at(base);
            pending_scales_.erase(base);
            return;
        }
        if (dt == DType::f8_e4m3) {
            fp8(e, rng, out);
            return;
        }
        if (dt == DType::i8) {
            fp4(e, rng, out);
            return;
        }
        if (dt == DType::i64) {
            const std::int64_t k = e.shape[1];
            const auto E = static_cast<std::uint64_t>(c_.n_routed_experts);
            for (std::int64_t t = 0; t < e.shape[0]; ++t) {
                std::vector<std::int64_t> picked;
                while (static_cast<std::int64_t>(picked.size()) < k) {
                    const auto id = static_cast<std::int64_t>(rng.next() % E);
                    if (std::find(picked.begin(), picked.end(), id) == picked.end()) {
                        picked.push_back(id);
                    }
                }
                out.append(reinterpret_cast<const char*>(picked.data()),
                           static_cast<std::size_t>(k) * 8);
            }
            return;
        }
        // Real-valued parameters.
        float sigma = 0.0F;
        float mean = 0.0F;
        const std::int64_t cols = e.shape.size() > 1 ? e.shape[1] : 1;
        if (ends_with(e.name, "norm.weight")) {
            mean = 1.0F;
            sigma = 0.05F;
        } else if (e.name == "embed.weight") {
            sigma = 1.0F;
        } else if (ends_with(e.name, "_fn")) {
            sigma = 0.5F / std::sqrt(static_cast<float>(cols));
        } else if (ends_with(e.name, "_scale")) {
            mean = 0.5F;
            sigma = 0.1F;
        } else if (ends_with(e.name, "_base") || ends_with(e.name, "gate.bias")) {
            sigma = 0.1F;
        } else if (ends_with(e.name, "attn_sink")) {
            sigma = 1.0F;
        } else if (ends_with(e.name, "ape")) {
            sigma = 0.2F;
        } else {
            sigma = 1.0F / std::sqrt(static_cast<float>(cols));
        }
        const std::size_t at = out.size();
        out.resize(at + static_cast<std::size_t>(n) * (dt == DType::bf16 ? 2 : 4));
        char* p = out.data() + at;
        for (std::int64_t i = 0; i < n; ++i) {
            const float v = rng.uniform(sigma, mean);
            if (dt == DType::bf16) {
                const std::uint16_t h = kernels::f32_to_bf16(v);
                std::memcpy(p + 2 * i, &h, 2);
            } else {
                std::memcpy(p + 4 * i, &v, 4);
            }
        }
    }

private:
    // 128x128 tiles, power-of-two scales from the tile's amax (the official weight quantization).
    void fp8(const ExpectedTensor& e, Rng& rng, std::string& out) {
        const std::int64_t rows = e.shape[0];
        const std::int64_t cols = e.shape[1];
        const std::int64_t sc = (cols + 127) / 128;
        const float sigma = 1.0F / std::sqrt(static_cast<float>(cols));
        std::string scales;
        std::vector<float> band;
        for (std::int64_t r0 = 0; r0 < rows; r0 += 128) {
            const std::int64_t h = std::min<std::int64_t>(128, rows - r0);
            band.resize(static_cast<std::size_t>(h * cols));
            for (auto& v : band) {
                v = rng.uniform(sigma);
            }
            std::vector<float> scale(static_cast<std::size_t>(sc));
            for (std::int64_t b = 0; b < sc; ++b) {
                float amax = 0.0F;
                for (std::int64_t r = 0; r < h; ++r) {
                    for (std::int64_t c = b * 128; c < std::min(cols, (b + 1) * 128); ++c) {
                        amax =
                            std::max(amax, std::fabs(band[static_cast<std::size_t>(r * cols + c)]));
                    }
                }
                const std::uint8_t code =
                    kernels::pow2_scale_code(std::max(amax, 1e-30F), kernels::kFp8Max);
                scales.push_back(static_cast<char>(code));
                scale[static_cast<std::size_t>(b)] = kernels::e8m0_to_f32(code);
            }
            const std::size_t at = out.size();
            out.resize(at + static_cast<std::size_t>(h * cols));
            for (std::int64_t r = 0; r < h; ++r) {
                for (std::int64_t c = 0; c < cols; ++c) {
                    const float s = scale[static_cast<std::size_t>(c / 128)];
                    const float v = std::clamp(band[static_cast<std::size_t>(r * cols + c)] / s,
                                               -kernels::kFp8Max, kernels::kFp8Max);
                    out[at + static_cast<std::size_t>(r * cols + c)] =
                        static_cast<char>(kernels::f32_to_fp8_e4m3(v));
                }
            }
        }
        pending_scales_[e.name.substr(0, e.name.size() - 7)] = scales;  // strip ".weight"
    }

    // 1x32 blocks, power-of-two scales, two codes per byte with the low nibble first.
    void fp4(const ExpectedTensor& e, Rng& rng, std::string& out) {
        const std::int64_t rows = e.shape[0];
        const std::int64_t cols = e.shape[1] * 2;
        const float sigma = 1.0F / std::sqrt(static_cast<float>(cols));
        std::string scales;
        scales.reserve(static_cast<std::size_t>(rows * cols / 32));
        float block[32];
        for (std::int64_t r = 0; r < rows; ++r) {
            for (std::int64_t b = 0; b < cols / 32; ++b) {
                float amax = 0.0F;
                for (float& v : block) {
                    v = rng.uniform(sigma);
                    amax = std::max(amax, std::fabs(v));
                }
                const std::uint8_t code = kernels::pow2_scale_code(
                    std::max(amax, kernels::kFp4AmaxFloor), kernels::kFp4Max);
                scales.push_back(static_cast<char>(code));
                const float s = kernels::e8m0_to_f32(code);
                for (int i = 0; i < 32; i += 2) {
                    const std::uint8_t lo = kernels::f32_to_fp4_e2m1(block[i] / s);
                    const std::uint8_t hi = kernels::f32_to_fp4_e2m1(block[i + 1] / s);
                    out.push_back(static_cast<char>(lo | (hi << 4)));
                }
            }
        }
        pending_scales_[e.name.substr(0, e.name.size() - 7)] = scales;
    }

    const ModelConfig& c_;
    std::uint64_t seed_;
    std::map<std::string, std::string> pending_scales_;
};

// Which shard a tensor goes to: 0 embed; 1 + layer; the last layer's shard also takes the head
// and final norm; then the MTP block.
std::int64_t shard_of(const ModelConfig& c, const std::string& name) {
    if (name == "embed.weight") {
        return 0;
    }
    if (name.rfind("layers.", 0) == 0) {
        return 1 + std::stoll(name.substr(7));
    }
    if (name.rfind("mtp.", 0) == 0) {
        return 1 + c.num_hidden_layers + std::stoll(name.substr(4));
    }
    return c.num_hidden_layers;  // head, norm, hc_head_*: with the last layer
}

}  // namespace

MakeTinyResult make_tiny_checkpoint(std::string_view config_json,
                                    const std::filesystem::path& out_dir, std::uint64_t seed) {
    const ModelConfig c = parse_config(config_json, "--config");
    std::filesystem::create_directories(out_dir);
    const auto expected = expected_tensors(c);
    const std::int64_t shards = 1 + c.num_hidden_layers + c.num_nextn_predict_layers;
    std::vector<std::vector<const ExpectedTensor*>> by_shard(static_cast<std::size_t>(shards));
    for (const auto& e : expected) {
        by_shard[static_cast<std::size_t>(shard_of(c, e.name))].push_back(&e);
    }
    auto file_name = [&](std::int64_t i) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "model-%05lld-of-%05lld.safetensors",
                      static_cast<long long>(i + 1), static_cast<long long>(shards));
        return std::string(buf);
    };
    MakeTinyResult result;
    json weight_map = json::object();
    Writer writer(c, seed);
    for (std::int64_t s = 0; s < shards; ++s) {
        const std::string file = file_name(s);
        std::string data;
        json header = json::object();
        header["__metadata__"] = {{"format", "pt"}};
        for (const ExpectedTensor* e : by_shard[static_cast<std::size_t>(s)]) {
            const std::size_t begin = data.size();
            writer.generate(*e, data);
            header[e->name] = {{"dtype", std::string(to_string(e->dtypes.front()))},
                               {"shape", e->shape},
                               {"data_offsets", {begin, data.size()}}};
            weight_map[e->name] = file;
            ++result.tensors;
        }
        std::string h = header.dump();
        h.append((8 - h.size() % 8) % 8, ' ');
        const std::uint64_t n = h.size();
        std::ofstream out(out_dir / file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(&n), 8);
        out.write(h.data(), static_cast<std::streamsize>(h.size()));
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
        if (!out) {
            throw std::runtime_error((out_dir / file).string() + ": write failed");
        }
        result.bytes += static_cast<std::int64_t>(data.size());
    }
    const json index = {{"metadata", {{"total_size", result.bytes}}}, {"weight_map", weight_map}};
    std::ofstream(out_dir / "model.safetensors.index.json") << index.dump(2) << "\n";
    std::ofstream(out_dir / "config.json") << json::parse(config_json).dump(2) << "\n";
    result.shards = shards;
    return result;
}

}  // namespace osprey::model
