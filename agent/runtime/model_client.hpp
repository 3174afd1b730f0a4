#pragma once
// The agent's model client: one KV session per task plus a token source. Two backends share every
// line of the bookkeeping (tokenization, streaming decode, the DSML parser, token accounting):
//   - `local`: the in-process engine (model::Session) with the sampler (engine defaults:
//     temperature 1.0, top-p 1.0; greedy while the parser is inside DSML protocol syntax);
//   - `scripted`: a test double that plays back assistant turns from a JSON array of strings
//     (`--model scripted:FILE`), string k being the exact text of the model's k-th turn after the
//     `<｜Assistant｜><think>` (or `</think>`) transition, up to and including
//     `<｜end▁of▁sentence｜>`. It is tokenized with the real tokenizer and fed token by token.
// A script can also drive a real engine session (teacher forcing), which is how the local
// backend's KV bookkeeping is tested without trained weights.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "model/backend.hpp"
#include "model/chat/output_parser.hpp"
#include "model/constrained/json_constraint.hpp"
#include "model/sampler.hpp"
#include "model/session.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace osprey::agent {

// The model could not produce a turn (script exhausted, engine failure): the task fails.
class ModelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads a script file (a JSON array of strings). Throws std::invalid_argument naming the file and
// the element at fault.
std::vector<std::string> load_script(const std::filesystem::path& path);

// Throws std::invalid_argument when the tokenizer can produce ids the model has no row for.
void check_vocabulary(const model::Tokenizer& tokenizer, const model::Backend& backend);

enum class FinishReason { end_turn, tool_calls, max_tokens, cancelled };
std::string_view to_string(FinishReason reason);

struct TurnOutput {
    model::ParsedMessage message;
    std::vector<model::ParseEvent> errors;  // parser error events (at most one)
    FinishReason finish = FinishReason::end_turn;
    std::int64_t decoded_tokens = 0;
    std::chrono::milliseconds decode_time{0};
    bool ended_with_eos = false;
};

class ModelClient {
public:
    // The scripted backend: no engine, the session is the token list.
    ModelClient(std::shared_ptr<const model::Tokenizer> tokenizer, std::vector<std::string> script,
                std::string fingerprint);
    // The local backend: an engine session; tokens sampled from its logits.
    ModelClient(std::shared_ptr<const model::Tokenizer> tokenizer,
                std::shared_ptr<model::Backend> backend, const model::SessionOptions& session,
                const model::SamplingParams& sampling, std::string fingerprint);
    // An engine session whose turns are forced from `script` (tests of the KV bookkeeping).
    ModelClient(std::shared_ptr<const model::Tokenizer> tokenizer,
                std::shared_ptr<model::Backend> backend, const model::SessionOptions& session,
                std::vector<std::string> script, std::string fingerprint);

    const std::string& fingerprint() const { return fingerprint_; }
    const model::Tokenizer& tokenizer() const { return *tokenizer_; }

    // Prefills `tokens` (the rendered suffix). Returns the time it took.
    std::chrono::milliseconds append(std::span<const std::int32_t> tokens);
    std::vector<std::int32_t> encode(std::string_view text) const;

    // Generates one assistant turn on the calling thread, feeding every token through the
    // session, the streaming decoder and the parser; `on_event` sees each parser event as it is
    // produced. Stops at end of sentence, when the parser finishes or fails, after `max_tokens`,
    // or when `cancel` becomes true. Throws ModelError when no turn can be produced.
    TurnOutput generate_turn(model::ThinkingMode mode, std::int64_t max_tokens,
                             const std::atomic<bool>& cancel,
                             const std::function<void(const model::ParseEvent&)>& on_event);

    // Local backend only: decodes a turn whose every token is one `constraint` allows (JSON
    // schema enforced during decoding), until the document is complete; then feeds the end of
    // sentence. A sampled token the constraint refuses is redrawn from the masked logits (the
    // same distribution as masking first, at a fraction of the cost). Returns the text; throws
    // ModelError for the scripted backend or when nothing can be sampled.
    struct ConstrainedOutput {
        std::string text;
        std::int64_t decoded_tokens = 0;
        std::int64_t masked_steps = 0;  // steps that needed the full mask
        std::chrono::milliseconds decode_time{0};
        bool complete = false;
    };
    ConstrainedOutput generate_constrained(model::JsonConstraint& constraint,
                                           const std::atomic<bool>& cancel);
    bool is_scripted() const { return script_.has_value() && !session_; }
    // Starts an empty session (compaction): the old KV state is dropped, the counters go on.
    void reset();

    // Resume: the session becomes `context`. `restored` (a session restored from a KV snapshot,
    // holding a prefix of `context`) is adopted and only the rest is prefilled; without it the
    // whole context is. Returns the number of tokens prefilled. The scripted backend just takes
    // the token list.
    // `pending` (the tokens the next append() will bring): a snapshot may already hold some of
    // them; append() then skips what matches instead of prefilling it again.
    std::int64_t restore(const std::vector<std::int32_t>& context,
                         std::unique_ptr<model::Session> restored,
                         std::span<const std::int32_t> pending = {});
    // Rewind of the live session: when it holds `context` as a prefix, truncates it there (the
    // engine's truncate) and returns true; false (nothing changed) otherwise.
    bool truncate_to(const std::vector<std::int32_t>& context);
    bool has_engine() const { return session_ != nullptr; }
    const std::shared_ptr<model::Backend>& backend() const { return backend_; }
    // The scripted backend: the script index of the last turn generated, and the next one to play.
    std::size_t script_turn() const { return next_turn_ == 0 ? 0 : next_turn_ - 1; }
    void set_next_script_turn(std::size_t turn) { next_turn_ = turn; }

    // Tokens held by the session (its context).
    std::int64_t context_tokens() const { return static_cast<std::int64_t>(tokens_.size()); }
    const std::vector<std::int32_t>& tokens() const { return tokens_; }
    // Tokens that went through the model (appended + decoded), each counted once.
    std::int64_t forwarded_tokens() const { return forwarded_; }
    // Logits after the last append or decode (empty for the scripted backend).
    const std::vector<float>& last_logits() const { return logits_; }
    model::Session* session() { return session_.get(); }
    // Logits right after the most recent append(), and the context length they belong to.
    const std::vector<float>& append_logits() const { return append_logits_; }
    std::int64_t append_end() const { return append_end_; }
    // Called on the compute thread as a prefill advances (tokens done, tokens to do); long
    // appends then run in chunks of `chunk` tokens so progress can be shown.
    void set_prefill_progress(std::function<void(std::int64_t, std::int64_t)> progress,
                              std::int64_t chunk = 2048) {
        progress_ = std::move(progress);
        progress_chunk_ = chunk;
    }
    // A pause before each generated token (demos, and tests that interrupt a generation).
    void set_token_delay(std::chrono::milliseconds delay) { token_delay_ = delay; }
    std::int32_t eos_id() const { return eos_; }

private:
    std::int32_t choose(bool greedy, std::size_t turn_pos);
    void refeed_last();
    void feed(std::int32_t token);

    std::shared_ptr<const model::Tokenizer> tokenizer_;
    std::string fingerprint_;
    std::shared_ptr<model::Backend> backend_;
    model::SessionOptions session_options_;
    std::unique_ptr<model::Session> session_;
    std::optional<model::Sampler> sampler_;
    std::optional<std::vector<std::string>> script_;
    std::size_t next_turn_ = 0;
    std::vector<std::int32_t> turn_tokens_;  // the current scripted turn
    std::vector<std::int32_t> tokens_;
    std::vector<float> logits_;
    std::vector<float> append_logits_;
    std::int64_t append_end_ = 0;
    std::chrono::milliseconds token_delay_{0};
    std::function<void(std::int64_t, std::int64_t)> progress_;
    std::int64_t progress_chunk_ = 2048;
    std::int64_t forwarded_ = 0;
    std::int32_t eos_ = 1;
    std::size_t preloaded_ = 0;  // tokens at the end of the session restored ahead of append()
};

}  // namespace osprey::agent
