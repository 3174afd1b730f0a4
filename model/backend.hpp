#pragma once
// The compute-backend interface of the engine. A backend owns where weights and KV state live (host
// memory for cpu, device memory for a later cuda backend) and runs the V4 forward pass on them;
// Session and the CLI only talk to this interface, so a new backend plugs in without touching them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.hpp"

namespace osprey::model {

// fp32: weights dequantized on the fly, everything else fp32 (the mathematical reference).
// exact: the official rounding points (FP8 activation quantization, bf16 between modules,
// FP8-simulated KV, Hadamard + FP4-simulated indexer, bf16 attention probabilities).
enum class Numerics { fp32, exact };

std::string_view to_string(Numerics numerics);
// "fp32" / "exact"; throws std::invalid_argument otherwise.
Numerics parse_numerics(std::string_view text);

struct SessionOptions {
    Numerics numerics = Numerics::fp32;
    std::int64_t capacity = 1 << 20;   // most tokens the session may hold
    std::int64_t rewind_margin = 256;  // truncation this far back is O(1); further replays
    // exact mode: keep cached KV on its FP8/FP4 grid (≈3.5 KB/token for V4-Flash) instead of
    // fp32; lossless, so the logits are identical either way.
    bool compact_kv = true;
};

// Per-sequence state owned by a backend (window rings, compressor partial states, compressed
// rows, indexer keys, MTP block state). Opaque outside the backend: it need not live in host
// memory.
class BackendState {
public:
    virtual ~BackendState() = default;
    virtual std::int64_t length() const = 0;  // tokens processed
    virtual std::int64_t bytes() const = 0;   // bytes held right now
    virtual const SessionOptions& options() const = 0;
};

// Receives one named section of saved state. The bytes are a view into the live state, valid only
// during the call (stream them out; no copy is made).
using StateSink = std::function<void(std::string_view name, std::span<const std::byte> bytes)>;
// Returns the bytes of the named section, or nullopt when the saved state has none by that name.
// The bytes must stay valid until the restore call returns.
using StateSource = std::function<std::optional<std::span<const std::byte>>(std::string_view name)>;

struct ForwardRequest {
    bool all_logits = true;  // logits for every position (else only the last)
    // When set: residual streams after every block for the first `hidden_positions` positions of
    // this call, [layer, position, hc, D] (a debugging aid for golden comparisons).
    std::vector<float>* layer_hidden = nullptr;
    std::int64_t hidden_positions = 0;
    // When set: final pre-head streams [tokens, hc, D] (input of the MTP block).
    std::vector<float>* final_streams = nullptr;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual const ModelConfig& config() const = 0;

    virtual std::unique_ptr<BackendState> create_state(const SessionOptions& options) = 0;
    // Feeds tokens at positions state.length() ... and returns logits, [tokens or 1, vocab].
    virtual std::vector<float> forward(BackendState& state, std::span<const std::int32_t> tokens,
                                       const ForwardRequest& request) = 0;
    // Rolls the state back to `length` tokens if that is within reach of the retained history;
    // false when the caller must rebuild the state (Session replays its tokens then).
    virtual bool truncate(BackendState& state, std::int64_t length) = 0;
    // The MTP block (spec §7): streams [tokens, hc, D] of the main model at positions
    // start.., and the next token ids; returns its logits [tokens, vocab]. Uses the state's own
    // MTP block cache, which must hold exactly `start` positions.
    virtual std::vector<float> mtp_forward(BackendState& state, std::span<const float> streams,
                                           std::span<const std::int32_t> next_tokens) = 0;
    // Bytes of weights one decode step reads (dense parts + the routed experts it selects).
    virtual std::int64_t decode_weight_bytes() const = 0;

    // Exports everything the forward pass needs to continue `state` bit-exactly, as named sections
    // in a fixed order: first a small JSON section with the shapes (config and state lengths), then
    // one section per layer part (window ring, compressor rings, compressed rows, indexer keys,
    // MTP block state). The default throws std::logic_error (a backend that cannot save).
    virtual void save_state(const BackendState& state, const StateSink& sink) const;
    // Rebuilds a state of `length` tokens from sections written by save_state on a backend with the
    // same config, without running the forward pass. Throws StateFormatError (model/errors.hpp)
    // naming the section when one is missing, has the wrong size, or its shapes do not fit this
    // backend's config or `options`. The default throws std::logic_error.
    virtual std::unique_ptr<BackendState> restore_state(const SessionOptions& options,
                                                        std::int64_t length,
                                                        const StateSource& source);
};

struct CpuBackendOptions {
    unsigned threads = 0;  // 0: every core
};

struct ModelWeights;
std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const ModelWeights> weights,
                                          const CpuBackendOptions& options = {});

}  // namespace osprey::model
