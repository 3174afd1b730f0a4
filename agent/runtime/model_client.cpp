#include "agent/runtime/model_client.hpp"

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace osprey::agent {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

std::int32_t eos_of(const model::Tokenizer& tokenizer) {
    if (auto id = tokenizer.eos_id()) {
        return *id;
    }
    if (auto id = tokenizer.token_id(model::chat_tokens::kEos)) {
        return *id;
    }
    return 1;
}

}  // namespace

std::vector<std::string> load_script(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::invalid_argument("cannot read the script " + path.string());
    }
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw std::invalid_argument(path.string() + " is not valid JSON: " + e.what());
    }
    if (!doc.is_array()) {
        throw std::invalid_argument(path.string() +
                                    ": a script is a JSON array of strings (one per model turn)");
    }
    std::vector<std::string> turns;
    for (std::size_t i = 0; i < doc.size(); ++i) {
        if (!doc[i].is_string()) {
            throw std::invalid_argument(path.string() + ": element " + std::to_string(i) +
                                        " is not a string");
        }
        turns.push_back(doc[i].get<std::string>());
    }
    return turns;
}

std::string_view to_string(FinishReason reason) {
    switch (reason) {
        case FinishReason::end_turn:
            return "end_turn";
        case FinishReason::tool_calls:
            return "tool_calls";
        case FinishReason::max_tokens:
            return "max_tokens";
        case FinishReason::cancelled:
            return "cancelled";
    }
    return "end_turn";
}

ModelClient::ModelClient(std::shared_ptr<const model::Tokenizer> tokenizer,
                         std::vector<std::string> script, std::string fingerprint)
    : tokenizer_(std::move(tokenizer)),
      fingerprint_(std::move(fingerprint)),
      script_(std::move(script)),
      eos_(eos_of(*tokenizer_)) {}

ModelClient::ModelClient(std::shared_ptr<const model::Tokenizer> tokenizer,
                         std::shared_ptr<model::Backend> backend,
                         const model::SessionOptions& session,
                         const model::SamplingParams& sampling, std::string fingerprint)
    : tokenizer_(std::move(tokenizer)),
      fingerprint_(std::move(fingerprint)),
      backend_(backend),
      session_options_(session),
      session_(std::make_unique<model::Session>(backend, session)),
      sampler_(sampling),
      eos_(static_cast<std::int32_t>(backend->config().eos_token_id)) {
    check_vocabulary(*tokenizer_, *backend_);
}

ModelClient::ModelClient(std::shared_ptr<const model::Tokenizer> tokenizer,
                         std::shared_ptr<model::Backend> backend,
                         const model::SessionOptions& session, std::vector<std::string> script,
                         std::string fingerprint)
    : tokenizer_(std::move(tokenizer)),
      fingerprint_(std::move(fingerprint)),
      backend_(backend),
      session_options_(session),
      session_(std::make_unique<model::Session>(backend, session)),
      script_(std::move(script)),
      eos_(static_cast<std::int32_t>(backend->config().eos_token_id)) {
    check_vocabulary(*tokenizer_, *backend_);
}

void ModelClient::reset() {
    if (session_) {
        session_ = std::make_unique<model::Session>(backend_, session_options_);
    }
    tokens_.clear();
    logits_.clear();
    append_logits_.clear();
    append_end_ = 0;
}

std::int64_t ModelClient::restore(const std::vector<std::int32_t>& context,
                                  std::unique_ptr<model::Session> restored,
                                  std::span<const std::int32_t> pending) {
    std::int64_t prefilled = 0;
    tokens_ = context;
    preloaded_ = 0;
    if (session_) {
        if (restored) {
            const auto& held = restored->tokens();
            std::vector<std::int32_t> wanted = context;
            wanted.insert(wanted.end(), pending.begin(), pending.end());
            if (held.size() > wanted.size() ||
                !std::equal(held.begin(), held.end(), wanted.begin())) {
                throw ModelError(
                    "the restored KV session is not a prefix of the journal's context");
            }
            session_ = std::move(restored);
        } else {
            session_ = std::make_unique<model::Session>(backend_, session_options_);
        }
        const auto held = static_cast<std::size_t>(session_->token_count());
        if (held > context.size()) {
            preloaded_ = held - context.size();
            tokens_.insert(tokens_.end(), pending.begin(), pending.begin() + preloaded_);
        } else if (held < context.size()) {
            const std::span<const std::int32_t> rest(context.data() + held, context.size() - held);
            logits_ = session_->append(rest, 0, false);
            prefilled = static_cast<std::int64_t>(rest.size());
        }
        append_logits_ = logits_;
    }
    append_end_ = static_cast<std::int64_t>(tokens_.size());
    forwarded_ += prefilled;
    return prefilled;
}

bool ModelClient::truncate_to(const std::vector<std::int32_t>& context) {
    if (context.size() > tokens_.size() - preloaded_ ||
        !std::equal(context.begin(), context.end(), tokens_.begin())) {
        return false;
    }
    if (session_) {
        session_->truncate(static_cast<std::int64_t>(context.size()));
    }
    tokens_.resize(context.size());
    preloaded_ = 0;
    logits_.clear();
    append_logits_.clear();
    append_end_ = static_cast<std::int64_t>(tokens_.size());
    return true;
}

void ModelClient::refeed_last() {
    // A snapshot keeps no logits: the last token goes through the model once more.
    session_->truncate(session_->token_count() - 1);
    logits_ = session_->append(std::span(&tokens_.back(), 1), 0, false);
    ++forwarded_;
}

void check_vocabulary(const model::Tokenizer& tokenizer, const model::Backend& backend) {
    const auto vocab = backend.config().vocab_size;
    if (static_cast<std::int64_t>(tokenizer.id_limit()) > vocab) {
        throw std::invalid_argument("the tokenizer has ids up to " +
                                    std::to_string(tokenizer.id_limit() - 1) +
                                    " but the model's vocab_size is " + std::to_string(vocab) +
                                    ": give the model's own tokenizer with --tokenizer");
    }
}

std::vector<std::int32_t> ModelClient::encode(std::string_view text) const {
    return tokenizer_->encode(text);
}

std::chrono::milliseconds ModelClient::append(std::span<const std::int32_t> tokens) {
    const auto t0 = Clock::now();
    if (preloaded_ > 0) {
        // Restored ahead from a snapshot: skip what matches, drop what does not.
        const std::size_t base = tokens_.size() - preloaded_;
        std::size_t match = 0;
        while (match < preloaded_ && match < tokens.size() &&
               tokens_[base + match] == tokens[match]) {
            ++match;
        }
        if (match < preloaded_) {
            session_->truncate(static_cast<std::int64_t>(base + match));
            tokens_.resize(base + match);
            logits_.clear();
        }
        preloaded_ = 0;
        tokens = tokens.subspan(match);
        if (tokens.empty() && session_ && logits_.empty() && !tokens_.empty()) {
            refeed_last();
            append_logits_ = logits_;
            append_end_ = static_cast<std::int64_t>(tokens_.size());
        }
    } else if (tokens.empty() && session_ && logits_.empty() && !tokens_.empty()) {
        refeed_last();
        append_logits_ = logits_;
    }
    if (tokens.empty()) {
        return std::chrono::milliseconds(0);
    }
    const auto total = static_cast<std::int64_t>(tokens.size());
    if (progress_) {
        progress_(0, total);
    }
    if (session_ && progress_ && progress_chunk_ > 0 && total > progress_chunk_) {
        for (std::int64_t done = 0; done < total; done += progress_chunk_) {
            const std::int64_t n = std::min(progress_chunk_, total - done);
            logits_ = session_->append(
                tokens.subspan(static_cast<std::size_t>(done), static_cast<std::size_t>(n)), 0,
                false);
            progress_(done + n, total);
        }
        append_logits_ = logits_;
    } else if (session_) {
        logits_ = session_->append(tokens, 0, false);
        append_logits_ = logits_;
    }
    if (progress_) {
        progress_(total, total);
    }
    append_end_ = static_cast<std::int64_t>(tokens_.size() + tokens.size());
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    forwarded_ += static_cast<std::int64_t>(tokens.size());
    return since(t0);
}

void ModelClient::feed(std::int32_t token) {
    if (session_) {
        logits_ = session_->decode(token);
    }
    tokens_.push_back(token);
    ++forwarded_;
}

std::int32_t ModelClient::choose(bool greedy, std::size_t turn_pos) {
    if (script_) {
        return turn_tokens_.at(turn_pos);
    }
    if (logits_.empty()) {
        throw ModelError("the session has no logits to sample from (nothing was prefilled)");
    }
    return greedy ? model::argmax(logits_) : sampler_->sample(logits_);
}

TurnOutput ModelClient::generate_turn(
    model::ThinkingMode mode, std::int64_t max_tokens, const std::atomic<bool>& cancel,
    const std::function<void(const model::ParseEvent&)>& on_event) {
    if (script_) {
        if (next_turn_ >= script_->size()) {
            throw ModelError("the scripted model has no turn " + std::to_string(next_turn_ + 1) +
                             " (the script holds " + std::to_string(script_->size()) + ")");
        }
        turn_tokens_ = tokenizer_->encode((*script_)[next_turn_]);
        ++next_turn_;
    }
    TurnOutput out;
    model::OutputParser parser(mode);
    model::StreamDecoder decoder(*tokenizer_);
    const auto t0 = Clock::now();
    auto deliver = [&](std::vector<model::ParseEvent> events) {
        for (auto& ev : events) {
            if (ev.kind == model::ParseEventKind::error) {
                out.errors.push_back(ev);
            }
            on_event(ev);
        }
    };
    bool stopped = false;
    for (std::size_t pos = 0;; ++pos) {
        if (cancel.load()) {
            out.finish = FinishReason::cancelled;
            stopped = true;
            break;
        }
        if (out.decoded_tokens >= max_tokens) {
            out.finish = FinishReason::max_tokens;
            stopped = true;
            break;
        }
        if (script_ && pos >= turn_tokens_.size()) {
            break;  // the scripted turn had no end of sentence: the parser reports it
        }
        if (token_delay_.count() > 0) {
            std::this_thread::sleep_for(token_delay_);
        }
        const std::int32_t token = choose(parser.in_protocol_syntax(), pos);
        feed(token);
        ++out.decoded_tokens;
        const std::string piece = decoder.push(token);
        if (!piece.empty()) {
            deliver(parser.feed(piece));
        }
        if (token == eos_) {
            out.ended_with_eos = true;
            break;
        }
        if (parser.region() == model::OutputRegion::done) {
            break;
        }
    }
    const std::string rest = decoder.finish();
    if (!rest.empty()) {
        deliver(parser.feed(rest));
    }
    if (!stopped) {
        deliver(parser.finish());
    }
    out.message = parser.message();
    if (!stopped) {
        out.finish =
            out.message.tool_calls.empty() ? FinishReason::end_turn : FinishReason::tool_calls;
    }
    out.decode_time = since(t0);
    return out;
}

ModelClient::ConstrainedOutput ModelClient::generate_constrained(model::JsonConstraint& constraint,
                                                                 const std::atomic<bool>& cancel) {
    if (!session_ || !sampler_) {
        throw ModelError("constrained decoding needs the local backend");
    }
    if (logits_.empty()) {
        throw ModelError("the session has no logits to sample from (nothing was prefilled)");
    }
    ConstrainedOutput out;
    const auto t0 = Clock::now();
    std::vector<std::uint8_t> allowed;
    std::vector<float> masked;
    while (!constraint.done()) {
        if (cancel.load()) {
            break;
        }
        std::int32_t token = sampler_->sample(logits_);
        if (!constraint.allows(token)) {
            constraint.allowed_tokens(allowed);
            masked = logits_;
            bool any = false;
            for (std::size_t i = 0; i < masked.size(); ++i) {
                if (i < allowed.size() && allowed[i] != 0) {
                    any = true;
                } else {
                    masked[i] = -std::numeric_limits<float>::infinity();
                }
            }
            if (!any) {
                throw ModelError("constrained decoding: no token can continue the answer");
            }
            token = sampler_->sample(masked);
            ++out.masked_steps;
        }
        constraint.accept(token);
        feed(token);
        ++out.decoded_tokens;
    }
    out.complete = constraint.done();
    if (out.complete) {
        feed(eos_);  // the turn ends as any other: the context stays well formed
        ++out.decoded_tokens;
    }
    out.text = constraint.text();
    out.decode_time = since(t0);
    return out;
}

}  // namespace osprey::agent
