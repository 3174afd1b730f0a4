#pragma once
// Guards against a model stuck in a loop, and the user's budgets. The same tool call (tool + the
// same arguments) with the same result three times in a row earns a warning appended to the result;
// a fourth ends the task (exit code 3). Budgets: steps, generated tokens, wall time.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace osprey::agent {

class LoopGuard {
public:
    enum class Verdict { ok, warn, stop };

    // Call after each tool result, in call order.
    Verdict observe(std::string_view tool, const nlohmann::json& arguments,
                    std::string_view result);
    int repeats() const { return repeats_; }
    // The text appended to the third identical result.
    static std::string warning();

private:
    std::string last_key_;
    int repeats_ = 0;
};

struct Budgets {
    std::optional<std::int64_t> max_steps;
    std::optional<std::int64_t> max_tokens;  // tokens generated over the task
    std::optional<std::chrono::milliseconds> timeout;
};

// The first budget exceeded, as a message ("reached --max-steps 10"), or nullopt.
std::optional<std::string> exceeded_budget(const Budgets& budgets, std::int64_t steps,
                                           std::int64_t decoded_tokens,
                                           std::chrono::milliseconds elapsed);

}  // namespace osprey::agent
