#include "model/session.hpp"

#include <algorithm>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>

#include "model/errors.hpp"

namespace osprey::model {
namespace {

constexpr char kMagic[8] = {'O', 'S', 'P', 'K', 'V', 'S', '0', '1'};
constexpr std::int64_t kReplayChunk = 512;

template <typename T>
void put(std::ostream& out, const T& v) {
    out.write(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
T get(std::istream& in) {
    T v{};
    in.read(reinterpret_cast<char*>(&v), sizeof(T));
    if (!in) {
        throw std::runtime_error("session snapshot is truncated");
    }
    return v;
}

}  // namespace

Session::Session(std::shared_ptr<Backend> backend, const SessionOptions& options)
    : backend_(std::move(backend)), state_(backend_->create_state(options)) {}

std::vector<float> Session::append(std::span<const std::int32_t> tokens, std::int64_t chunk,
                                   bool all_logits) {
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n == 0) {
        return {};
    }
    const std::int64_t step = chunk > 0 ? chunk : n;
    std::vector<float> logits;
    for (std::int64_t i = 0; i < n; i += step) {
        const std::int64_t m = std::min(step, n - i);
        ForwardRequest req;
        req.all_logits = all_logits;
        const bool last = i + m == n;
        auto part = backend_->forward(
            *state_, tokens.subspan(static_cast<std::size_t>(i), static_cast<std::size_t>(m)), req);
        tokens_.insert(tokens_.end(), tokens.begin() + i, tokens.begin() + i + m);
        if (all_logits) {
            logits.insert(logits.end(), part.begin(), part.end());
        } else if (last) {
            logits = std::move(part);
        }
    }
    return logits;
}

std::vector<float> Session::decode(std::int32_t token) {
    return append(std::span<const std::int32_t>(&token, 1), 0, false);
}

std::int64_t Session::byte_size() const {
    return state_->bytes() + static_cast<std::int64_t>(tokens_.size() * sizeof(std::int32_t));
}

void Session::truncate(std::int64_t length) {
    if (length < 0 || length > token_count()) {
        throw std::out_of_range("truncate to " + std::to_string(length) +
                                " tokens: the session holds " + std::to_string(token_count()));
    }
    if (!backend_->truncate(*state_, length)) {
        const SessionOptions opts = state_->options();
        state_ = backend_->create_state(opts);
        std::vector<std::int32_t> keep(tokens_.begin(), tokens_.begin() + length);
        tokens_.clear();
        append(keep, kReplayChunk, false);
        return;
    }
    tokens_.resize(static_cast<std::size_t>(length));
}

void Session::save_state(const StateSink& sink) const {
    const SessionOptions& o = state_->options();
    const std::string options =
        nlohmann::json{
            {"backend", backend_->name()}, {"numerics", std::string(to_string(o.numerics))},
            {"capacity", o.capacity},      {"rewind_margin", o.rewind_margin},
            {"compact_kv", o.compact_kv},  {"tokens", token_count()}}
            .dump();
    sink("session", std::as_bytes(std::span<const char>(options)));
    backend_->save_state(*state_, sink);
}

Session Session::restore(std::shared_ptr<Backend> backend, std::vector<std::int32_t> tokens,
                         const StateSource& source) {
    const auto bytes = source("session");
    if (!bytes) {
        throw StateFormatError("saved state has no section 'session' (the session options)");
    }
    const auto* text = reinterpret_cast<const char*>(bytes->data());
    const auto j = nlohmann::json::parse(text, text + bytes->size(), nullptr, false);
    SessionOptions o;
    try {
        o.numerics = parse_numerics(j.at("numerics").get<std::string>());
        o.capacity = j.at("capacity").get<std::int64_t>();
        o.rewind_margin = j.at("rewind_margin").get<std::int64_t>();
        o.compact_kv = j.at("compact_kv").get<bool>();
        const auto n = j.at("tokens").get<std::int64_t>();
        if (n != static_cast<std::int64_t>(tokens.size())) {
            throw StateFormatError("saved state section 'session' is for " + std::to_string(n) +
                                   " tokens, not the " + std::to_string(tokens.size()) +
                                   " token ids given");
        }
    } catch (const StateFormatError&) {
        throw;
    } catch (const std::exception& e) {
        throw StateFormatError(std::string("saved state section 'session' is unreadable: ") +
                               e.what());
    }
    const std::int64_t vocab = backend->config().vocab_size;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= vocab) {
            throw StateFormatError("saved token id " + std::to_string(tokens[i]) + " at position " +
                                   std::to_string(i) + " is outside this model's vocabulary (0.." +
                                   std::to_string(vocab - 1) + ")");
        }
    }
    const auto length = static_cast<std::int64_t>(tokens.size());
    auto state = backend->restore_state(o, length, source);
    return Session(std::move(backend), std::move(state), std::move(tokens));
}

void Session::save(std::ostream& out) const {
    out.write(kMagic, sizeof kMagic);
    const SessionOptions& o = state_->options();
    put<std::int32_t>(out, o.numerics == Numerics::exact ? 1 : 0);
    put<std::int64_t>(out, o.capacity);
    put<std::int64_t>(out, o.rewind_margin);
    put<std::int64_t>(out, token_count());
    out.write(reinterpret_cast<const char*>(tokens_.data()),
              static_cast<std::streamsize>(tokens_.size() * sizeof(std::int32_t)));
    if (!out) {
        throw std::runtime_error("cannot write the session snapshot");
    }
}

Session Session::load(std::shared_ptr<Backend> backend, std::istream& in) {
    char magic[8] = {};
    in.read(magic, sizeof magic);
    if (!in || !std::equal(magic, magic + 8, kMagic)) {
        throw std::runtime_error("not an osprey session snapshot (bad magic)");
    }
    SessionOptions o;
    o.numerics = get<std::int32_t>(in) == 1 ? Numerics::exact : Numerics::fp32;
    o.capacity = get<std::int64_t>(in);
    o.rewind_margin = get<std::int64_t>(in);
    const auto n = get<std::int64_t>(in);
    if (n < 0 || n > o.capacity) {
        throw std::runtime_error("session snapshot holds an impossible token count " +
                                 std::to_string(n));
    }
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
    in.read(reinterpret_cast<char*>(ids.data()),
            static_cast<std::streamsize>(ids.size() * sizeof(std::int32_t)));
    if (!in) {
        throw std::runtime_error("session snapshot is truncated");
    }
    Session s(std::move(backend), o);
    s.append(ids, kReplayChunk, false);
    return s;
}

}  // namespace osprey::model
