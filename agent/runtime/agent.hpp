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
#include "agent/runtime/resume.hpp"
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
    // the session restarts from the system prompt + task + summary + the most recent turns that
    // fit in a quarter of the limit. nullopt: never (compact() still can).
    std::optional<std::int64_t> context_limit;
    // Keeps the session as it was before a compaction (e.g. a copy of its journal as another
    // memory session) and returns that session's id for the compaction event. Unset: the
    // session's own journal is the record.
    std::function<std::string(std::int64_t step)> keep_old_session;
    // Replaces the built-in instructions at the top of the system prompt (front ends with their
    // own job, such as `osprey review`); project memory and the workspace line still follow.
    std::optional<std::string> instructions;
    // The workspace's saved project notes (memory layer), shown in the system prompt.
    std::vector<std::string> project_notes;
    // Osprey's data folder (the memory tool's project notes); empty: none.
    std::filesystem::path data_dir;
    // Called (on a tool thread) before a tool creates, changes or deletes a file, with the
    // session and step it belongs to: file history for /rewind.
    std::function<void(const std::string& session_id, std::int64_t step,
                       const std::filesystem::path&)>
        before_file_change;
    // The seq of the first streamed event: the number the session's stream already holds
    // (resume; journal-only state records are not streamed and not counted).
    std::int64_t first_seq = 0;
    // Called on the compute thread after each prefill (false) and each generated turn (true):
    // where KV snapshots are written. What it returns (if anything) runs next on the event loop
    // (the store's connection belongs to the loop's thread). Must not throw.
    std::function<std::function<void()>(const std::string& session_id, bool turn_end)> checkpoint;
};

// chat | think | max -> encoder options; throws std::invalid_argument otherwise.
model::ChatOptions chat_options_for(std::string_view mode);

// The system prompt text (without the tool schemas, which the encoder renders).
std::string system_prompt(const std::filesystem::path& workspace,
                          const std::vector<std::string>& notes = {},
                          std::optional<std::string_view> instructions = std::nullopt);

// The terminal's answer to a call that needs approval (permission mode `ask`).
struct ApprovalRequest {
    std::string tool;
    std::string subject;  // the command (shell) or path (file tools) rules match
    nlohmann::json arguments;
};
enum class Approval { yes, no, always };

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
    // = begin(), run_turn(options.prompt), finish().
    asio::awaitable<AgentOutcome> run();

    // Conversations (the terminal): begin() once, then run_turn() per user message; every turn
    // appends only the rendering of what is new (the user message, after any tool results a
    // stopped turn left) to the same KV session. finish() ends the session (session.completed).
    void begin();
    asio::awaitable<AgentOutcome> run_turn(std::string user_message);
    // Continues a task from its journal (the model client already holds `state.context`):
    // answers the tool calls a cut-off turn left open (a tool that had started is reported as
    // interrupted, never re-run), then goes on. A non-empty `options.prompt` is a follow-up user
    // message. `restore_info` adds fields to session.started (restored_tokens, replayed_tokens).
    // Conversations use resume_state() + begin_resumed() and then run_turn() instead.
    asio::awaitable<AgentOutcome> resume(ResumeState state, std::string resumed_from,
                                         nlohmann::json restore_info);
    // Takes over a journaled state (members, open turn) and emits session.started.
    void begin_resumed(ResumeState& state, const std::string& resumed_from,
                       const nlohmann::json& restore_info);
    // Answers and renders the open turn a resumed state left (no-op when none).
    asio::awaitable<std::optional<AgentOutcome>> settle_open_turn();
    AgentOutcome finish(AgentOutcome outcome);
    // Compacts now (the terminal's /compact): summary, fresh session, compaction event.
    asio::awaitable<AgentOutcome> compact();
    // Forgets a previous interrupt() so the next turn can run (call between turns).
    void clear_interrupt();
    // chat | think | max for the next turns; throws std::invalid_argument.
    void set_mode(std::string_view mode);
    const std::string& mode() const { return options_.mode; }
    // Calls that need approval ask `approver` (on the event loop's thread) instead of being denied.
    void set_approver(std::function<Approval(const ApprovalRequest&)> approver);
    // Sees every parser event of the model's output as it is parsed (on the event loop's thread,
    // not journaled): the terminal shows tool calls while they are generated.
    void set_parse_observer(std::function<void(const model::ParseEvent&)> observer);
    // Task totals so far (steps, prompt/decoded tokens) and the context size.
    AgentOutcome totals() const;
    const std::string& session_id() const { return session_id_; }

    // Stops the current generation or tool; the task ends as interrupted with `exit_code`
    // (130 for SIGINT, 143 for SIGTERM). Call on the event loop's thread.
    void interrupt(int exit_code);
    const std::atomic<bool>& cancel_flag() const { return cancel_; }

private:
    struct CallOutcome;
    class TimeoutScope;
    nlohmann::json emit(std::string_view type, nlohmann::json fields,
                        memory::Durability durability = memory::Durability::commit_now);
    void on_parse_event(const model::ParseEvent& event);
    CallOutcome run_call(const std::string& name, const nlohmann::json& args, std::int64_t step);
    // The model loop of one user message, from its rendered prompt (or an open turn) on.
    asio::awaitable<AgentOutcome> loop(std::optional<UnfinishedTurn> carried);
    // Validates, permission-checks and runs the turn's calls (skipping those already answered),
    // appending their results to `tail` in call order. True when the loop guard says stop.
    asio::awaitable<bool> answer_calls(UnfinishedTurn& turn, nlohmann::json& tail);
    // The finished turn as journaled (agent.turn), tool call ids assigned.
    UnfinishedTurn turn_from(const TurnOutput& out);
    // A journal-only state record (resume.hpp), committed at once.
    void record(std::string_view type, nlohmann::json fields);
    void record_prompt(bool first);
    void emit_started(const std::optional<std::string>& resumed_from,
                      const nlohmann::json& restore);
    AgentOutcome turn_result(AgentOutcome outcome);
    AgentOutcome interrupted_outcome();
    asio::awaitable<std::optional<AgentOutcome>> compact_session();
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
    std::function<Approval(const ApprovalRequest&)> approver_;
    std::function<void(const model::ParseEvent&)> parse_observer_;
    // The conversation as rendered into the session so far, messages rendered but not yet
    // prefilled (`pending_`), and messages not yet rendered (tool results of a stopped turn).
    nlohmann::json messages_ = nlohmann::json::array();
    nlohmann::json unrendered_ = nlohmann::json::array();
    std::vector<std::int32_t> pending_;
    std::size_t pending_from_ = 0;  // messages_[pending_from_...] are what pending_ renders
    bool last_eos_ = true;
    bool began_ = false;
    bool needs_full_render_ = false;  // after compaction: render messages_ whole
    std::int64_t base_tokens_ = 0;
    LoopGuard guard_;
    std::vector<std::int32_t> last_fed_;        // appended before the last turn
    std::vector<std::int32_t> last_generated_;  // generated by the last turn
    std::optional<UnfinishedTurn> open_turn_;   // a resumed turn with calls left to answer
};

}  // namespace osprey::agent
