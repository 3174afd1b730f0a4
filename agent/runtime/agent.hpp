#pragma once
// The tool-calling agent on one persistent KV session per task. The loop renders the system
// prompt (built-in instructions + tool schemas + AGENTS.md, else CLAUDE.md, from the workspace
// root) and the user message, prefills, decodes a turn on the compute thread (tokens stream back
// to the event loop as events), validates, permission-checks and runs the turn's tool calls
// concurrently on the tool pool, appends exactly the incremental rendering of their results (in
// call order) and continues until the model answers, a budget or the loop guard stops it, or the
// task is cancelled. Every event is journaled before it is acted upon.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/asio.hpp"
#include "agent/events.hpp"
#include "agent/loop_guard.hpp"
#include "agent/permissions.hpp"
#include "agent/runtime/model_client.hpp"
#include "memory/journal.hpp"
#include "memory/tool_log.hpp"
#include "model/chat/chat_encoder.hpp"
#include "tools/core/registry.hpp"

namespace osprey::agent {

struct AgentOptions {
    std::filesystem::path workspace;  // canonical root
    std::string prompt;
    std::string mode = "think";  // chat | think | max
    Budgets budgets;
    PermissionMode permission = PermissionMode::read_only;
    std::vector<PermissionRule> rules;
    std::size_t tool_workers = 4;
    // Compaction: when the context would pass 80% of this many tokens, the model summarises and
    // the session restarts from the system prompt + task + summary. nullopt: never.
    std::optional<std::int64_t> context_limit;
    // Replaces the built-in instructions at the top of the system prompt (front ends with their
    // own job, such as `osprey review`); project memory and the workspace line still follow.
    std::optional<std::string> instructions;
};

// chat | think | max -> encoder options; throws std::invalid_argument otherwise.
model::ChatOptions chat_options_for(std::string_view mode);

// The system prompt text (without the tool schemas, which the encoder renders).
std::string system_prompt(const std::filesystem::path& workspace,
                          std::optional<std::string_view> instructions = std::nullopt);

struct AgentOutcome {
    int exit_code = 0;
    std::string exit_reason = "done";  // done | failed | budget | loop | usage | interrupted
    std::string final_text;
    std::int64_t steps = 0;
    std::int64_t prompt_tokens = 0;
    std::int64_t decoded_tokens = 0;
    std::int64_t context_tokens = 0;
};

class Agent {
public:
    using Sink = std::function<void(const nlohmann::json& event)>;

    // `journal`/`tool_log` may be null (no persistence). `sink` receives every event after it is
    // journaled. The registry gets the agent's `shell` when it has none.
    Agent(asio::io_context& io, ModelClient& model, tools::Registry& registry, AgentOptions options,
          std::string session_id, memory::Journal* journal, memory::ToolLog* tool_log, Sink sink);
    ~Agent();

    // Runs the task to its end on `io` (co_spawn it). Never throws for model or tool trouble.
    asio::awaitable<AgentOutcome> run();

    // Stops the current generation or tool; the task ends as interrupted with `exit_code`
    // (130 for SIGINT, 143 for SIGTERM). Call on the event loop's thread.
    void interrupt(int exit_code);
    const std::atomic<bool>& cancel_flag() const { return cancel_; }

private:
    struct CallOutcome;
    nlohmann::json emit(std::string_view type, nlohmann::json fields,
                        memory::Durability durability = memory::Durability::commit_now);
    void on_parse_event(const model::ParseEvent& event);
    CallOutcome run_call(const std::string& name, const nlohmann::json& args);
    AgentOutcome finish(AgentOutcome outcome);
    // Prefills `pending`, decodes one turn, emits turn.started/turn.completed/usage. nullopt
    // (after an error event) when the model fails.
    asio::awaitable<std::optional<TurnOutput>> model_turn(std::vector<std::int32_t>& pending,
                                                          bool& last_eos);

    asio::io_context& io_;
    ModelClient& model_;
    tools::Registry& registry_;
    AgentOptions options_;
    model::ChatOptions chat_;
    PermissionPolicy policy_;
    EventStamper stamper_;
    memory::Journal* journal_;
    memory::ToolLog* tool_log_;
    Sink sink_;
    std::string session_id_;
    tools::ToolContext tool_ctx_;
    asio::thread_pool compute_{1};
    asio::thread_pool tool_pool_;
    std::atomic<bool> cancel_{false};
    int interrupt_code_ = 0;
    bool timed_out_ = false;
    std::chrono::steady_clock::time_point started_;
    AgentOutcome totals_;
};

}  // namespace osprey::agent
