#pragma once
// Where a task stood when its process ended, read back from the session's journal. Besides the
// streamed events, the agent journals its own state as it goes (journal-only records, never
// streamed; every one committed before the agent acts on it):
//   agent.task    {prompt, mode, permission}   the task as given, before anything else
//   agent.start   {prompt, mode, permission, messages, tokens}   the first rendered prompt
//                 (a fork adds context, tail_start, eos, script_turn, base_tokens: the parent's
//                 state at the fork point)
//   agent.turn    {step, assistant, calls, parse_error, fed, tokens, eos, script_turn}
//                 a finished model turn: the tokens appended before it (`fed`), the token ids it
//                 generated, and its message (tool call ids included)
//                 (partial: true for a turn cut off by a budget or Ctrl-C)
//   agent.append  {step, tail, tokens}   the turn's tool results and their rendered suffix
//   agent.unrendered {assistant, tail}   results kept for the next message (a stopped turn)
//   agent.compact {messages}             a compacted history, to be rendered whole
//   agent.prompt  {messages, tokens, tail_start, base_tokens}   a new user message rendered
//   agent.rewind  {to_step}              back to the end of an earlier step
//   agent.drop_partial {}                a resume dropped the cut-off turn to generate it again
// From these the conversation, the exact token context and the next action are rebuilt: a
// resumed task appends only what its restored KV state lacks, never re-runs a tool that started,
// and reports a tool cut off mid-run as interrupted.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "memory/database.hpp"
#include "model/chat/output_parser.hpp"

namespace osprey::agent {

// A model turn whose tool calls were not all answered when the process ended.
struct UnfinishedTurn {
    std::int64_t step = 0;
    std::size_t script_turn = 0;
    nlohmann::json assistant;  // the assistant message, tool call ids included
    std::vector<model::ParsedToolCall> calls;
    std::optional<std::string> parse_error;
    std::map<std::size_t, std::int64_t> call_seqs;  // calls whose tool.call event was journaled
    std::map<std::size_t, nlohmann::json> results;  // calls whose tool.result event was journaled
    bool interrupted = false;  // set when a started call is reported as interrupted
};

struct ResumeState {
    std::string session_id;
    std::string prompt;
    std::string mode = "think";
    std::string permission = "read-only";
    nlohmann::json messages = nlohmann::json::array();  // rendered into the session so far
    std::vector<std::int32_t> context;  // token ids the session held after the last record
    std::vector<std::int32_t> pending;  // rendered, to be appended before the next turn
    // messages[tail_start..] are what `pending` renders (a follow-up prompt re-renders them).
    std::size_t tail_start = 0;
    bool last_eos = true;
    std::int64_t steps = 0;
    std::int64_t base_tokens = 0;  // context length at the (re)start, for compaction
    std::size_t next_script_turn = 0;
    std::optional<UnfinishedTurn> unfinished;
    // The last turn answered without tool calls: the task is done (a follow-up prompt may go on).
    bool answered = false;
    std::string final_text;
    std::int64_t streamed_events = 0;  // events of the session's stream (the next seq)
    // Only the task was journaled (agent.task): the process ended before the prompt was
    // rendered; the task starts from the beginning on this session.
    bool not_started = false;
    // Tool results waiting to be rendered with the next message (a stopped turn).
    nlohmann::json unrendered = nlohmann::json::array();
    // After a compaction: the history is rendered whole into an empty session.
    bool needs_full_render = false;
    // The last record is a turn cut off by a budget or Ctrl-C (kept in the context; see
    // drop_partial_turn).
    bool partial_turn = false;
    std::size_t partial_tokens = 0;
    std::vector<std::int32_t> partial_fed;
    bool partial_eos_before = true;
    std::size_t partial_script_turn = 0;
};

// Forgets a trailing cut-off turn, so that it is generated again from its start (a resume
// without a new message); the context loses its tokens, the prompt before it is pending again.
void drop_partial_turn(ResumeState& state);

// Reads the session's journal. Throws std::runtime_error naming the session when it holds no
// agent state (not an agent task, or a journal from before state records existed).
ResumeState read_resume_state(memory::Database& db, const std::string& session_id);

// The state at the end of step `step` of a session (its tool results rendered, nothing of later
// steps): what a fork at that step starts from. `step` 0 is the first prompt. Throws
// std::runtime_error when the session has no such step.
ResumeState read_fork_state(memory::Database& db, const std::string& session_id, std::int64_t step);

// The agent.start record that makes a fork of `state` a session of its own.
nlohmann::json fork_start_record(const ResumeState& state);

}  // namespace osprey::agent
