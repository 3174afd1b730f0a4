#include "agent/loop_guard.hpp"

namespace osprey::agent {

LoopGuard::Verdict LoopGuard::observe(std::string_view tool, const nlohmann::json& arguments,
                                      std::string_view result) {
    // nlohmann::json objects are ordered by key, so dump() is canonical for equal arguments.
    std::string key = std::string(tool);
    key += '\0';
    key += arguments.dump();
    key += '\0';
    key += result;
    if (key == last_key_) {
        ++repeats_;
    } else {
        last_key_ = std::move(key);
        repeats_ = 1;
    }
    if (repeats_ >= 4) {
        return Verdict::stop;
    }
    return repeats_ == 3 ? Verdict::warn : Verdict::ok;
}

std::string LoopGuard::warning() {
    return "\n\n[osprey] This is the third identical call with an identical result. Repeating it "
           "will not change the outcome; try a different approach. A fourth identical call ends "
           "the task.";
}

std::optional<std::string> exceeded_budget(const Budgets& b, std::int64_t steps,
                                           std::int64_t decoded_tokens,
                                           std::chrono::milliseconds elapsed) {
    if (b.max_steps && steps >= *b.max_steps) {
        return "reached --max-steps " + std::to_string(*b.max_steps);
    }
    if (b.max_tokens && decoded_tokens >= *b.max_tokens) {
        return "reached --max-tokens " + std::to_string(*b.max_tokens) + " generated tokens";
    }
    if (b.timeout && elapsed >= *b.timeout) {
        return "reached --timeout " + std::to_string(b.timeout->count() / 1000) + "s";
    }
    return std::nullopt;
}

}  // namespace osprey::agent
