#pragma once
// A long-lived KV session over one backend: append any number of tokens (in chunks of any size),
// decode one token, report its token count and byte size, truncate back to an earlier length, and
// save/restore itself. The state lives wherever the backend keeps it.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <vector>

#include "model/backend.hpp"

namespace osprey::model {

class Session {
public:
    Session(std::shared_ptr<Backend> backend, const SessionOptions& options = {});

    // Feeds tokens in calls of at most `chunk` tokens (0: one call). Returns the logits of every
    // fed position [tokens, vocab] when all_logits, else those of the last one [vocab].
    std::vector<float> append(std::span<const std::int32_t> tokens, std::int64_t chunk = 0,
                              bool all_logits = true);
    // One token through the decode path; its logits [vocab].
    std::vector<float> decode(std::int32_t token);

    std::int64_t token_count() const { return static_cast<std::int64_t>(tokens_.size()); }
    // Exact bytes held: the backend state plus the token ids.
    std::int64_t byte_size() const;
    const std::vector<std::int32_t>& tokens() const { return tokens_; }
    const SessionOptions& options() const { return state_->options(); }
    Backend& backend() const { return *backend_; }
    BackendState& state() { return *state_; }

    // Rewinds to `length` tokens (≤ token_count()). Cheap within the rewind margin; further back
    // the session rebuilds its state by replaying its own tokens.
    void truncate(std::int64_t length);

    // Saved state without prefilling: "session" (the options, as JSON) followed by every section
    // of Backend::save_state, streamed to `sink` as views into the live state. The token ids are
    // not among them: store tokens() beside them (memory/session_snapshot.hpp does).
    void save_state(const StateSink& sink) const;
    // A session of `tokens` rebuilt from sections written by save_state, without running the
    // forward pass. Throws StateFormatError (naming the section) when they are missing, damaged
    // or do not fit this backend's config.
    static Session restore(std::shared_ptr<Backend> backend, std::vector<std::int32_t> tokens,
                           const StateSource& source);

    // Fallback snapshot: options + token ids (the state is rebuilt on load by replaying them in
    // chunks; use save_state/restore to skip the prefill).
    void save(std::ostream& out) const;
    static Session load(std::shared_ptr<Backend> backend, std::istream& in);

private:
    Session(std::shared_ptr<Backend> backend, std::unique_ptr<BackendState> state,
            std::vector<std::int32_t> tokens)
        : backend_(std::move(backend)), state_(std::move(state)), tokens_(std::move(tokens)) {}

    std::shared_ptr<Backend> backend_;
    std::unique_ptr<BackendState> state_;
    std::vector<std::int32_t> tokens_;
};

}  // namespace osprey::model
