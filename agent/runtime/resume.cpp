#include "agent/runtime/resume.hpp"

#include <limits>
#include <stdexcept>

#include "memory/journal.hpp"

namespace osprey::agent {
namespace {

using nlohmann::json;

std::vector<std::int32_t> ids(const json& array) {
    return array.get<std::vector<std::int32_t>>();
}

void append(std::vector<std::int32_t>& to, const std::vector<std::int32_t>& more) {
    to.insert(to.end(), more.begin(), more.end());
}

// Replays the state records of events[0, end) up to `last_step` (inclusive).
ResumeState replay(const std::vector<memory::JournalEvent>& events, std::size_t end,
                   const std::string& session_id, std::int64_t last_step) {
    ResumeState s;
    s.session_id = session_id;
    bool started = false;
    bool task_seen = false;
    std::optional<UnfinishedTurn> turn;  // the last agent.turn not yet followed by its results
    bool turn_answered = false;
    std::string last_record;
    for (std::size_t j = 0; j < end; ++j) {
        const auto& ev = events[j];
        const bool state_record = ev.type.rfind("agent.", 0) == 0;
        if (!state_record && !turn) {
            continue;
        }
        json p;
        try {
            p = json::parse(ev.payload);
        } catch (const json::parse_error&) {
            continue;  // the journal only holds valid JSON; nothing to rebuild from here
        }
        if (state_record && ev.type != "agent.start" && ev.type != "agent.rewind" &&
            p.value("step", std::int64_t{0}) > last_step) {
            continue;  // after the step asked for (a later rewind may come back to it)
        }
        if (ev.type == "agent.rewind") {
            // The session went back to the end of an earlier step: what came after is dropped.
            const std::int64_t to = p.at("to_step").get<std::int64_t>();
            if (to > last_step) {
                continue;
            }
            s = replay(events, j, session_id, to);
            turn.reset();
            turn_answered = false;
            last_record = ev.type;
            continue;
        }
        if (state_record && ev.type != "agent.drop_partial") {
            last_record = ev.type;
            s.answered = false;
            s.partial_turn = false;
        }
        if (ev.type == "agent.task") {
            // The task as given, journaled before anything else happens.
            s.prompt = p.value("prompt", "");
            s.mode = p.value("mode", "think");
            s.permission = p.value("permission", "read-only");
            task_seen = true;
            continue;
        }
        if (ev.type == "agent.start" || ev.type == "agent.prompt") {
            if (ev.type == "agent.start") {
                started = true;
                s.prompt = p.value("prompt", "");
                s.mode = p.value("mode", "think");
                s.permission = p.value("permission", "read-only");
            }
            s.messages = p.at("messages");
            s.pending = ids(p.at("tokens"));
            s.tail_start = p.value("tail_start", s.messages.size());
            s.base_tokens = p.value("base_tokens", static_cast<std::int64_t>(s.pending.size()));
            s.unrendered = json::array();
            s.needs_full_render = false;
            if (p.contains("context")) {  // a fork: the parent's state at the fork point
                s.context = ids(p.at("context"));
                s.last_eos = p.value("eos", true);
                s.next_script_turn = p.value("script_turn", std::size_t{0});
            }
            turn.reset();
            turn_answered = false;
        } else if (!started) {
            continue;
        } else if (ev.type == "agent.turn") {
            const std::int64_t step = p.at("step").get<std::int64_t>();
            const auto fed = ids(p.at("fed"));
            const auto generated = ids(p.at("tokens"));
            const bool eos_before = s.last_eos;
            append(s.context, fed);
            append(s.context, generated);
            s.pending.clear();
            s.last_eos = p.at("eos").get<bool>();
            s.steps = step;
            const std::size_t script_turn = p.at("script_turn").get<std::size_t>();
            s.next_script_turn = script_turn + 1;
            if (p.value("partial", false)) {
                // Cut off by a budget or Ctrl-C: it stays in the session unless dropped.
                s.messages.push_back(p.at("assistant"));
                s.partial_turn = true;
                s.partial_tokens = fed.size() + generated.size();
                s.partial_fed.assign(fed.begin() + (eos_before || fed.empty() ? 0 : 1), fed.end());
                s.partial_eos_before = eos_before;
                s.partial_script_turn = script_turn;
                turn.reset();
                continue;
            }
            turn.emplace();
            turn->step = step;
            turn->script_turn = script_turn;
            turn->assistant = p.at("assistant");
            for (const auto& c : p.at("calls")) {
                turn->calls.push_back({c.at("name").get<std::string>(),
                                       c.at("arguments").get<std::string>(),
                                       c.at("raw").get<std::string>()});
            }
            if (p.contains("parse_error") && p.at("parse_error").is_string()) {
                turn->parse_error = p.at("parse_error").get<std::string>();
            }
            turn_answered = turn->calls.empty() && !turn->parse_error;
        } else if (ev.type == "agent.append") {
            if (turn) {
                s.messages.push_back(turn->assistant);
                turn.reset();
            }
            s.tail_start = s.messages.size();
            for (const auto& m : p.at("tail")) {
                s.messages.push_back(m);
            }
            s.pending = ids(p.at("tokens"));
            turn_answered = false;
        } else if (ev.type == "agent.drop_partial") {
            drop_partial_turn(s);  // a resume went back to the start of the cut-off turn
        } else if (ev.type == "agent.unrendered") {
            // A turn whose results wait for the next message (stopped, or a resumed open turn).
            turn.reset();
            s.messages.push_back(p.at("assistant"));
            s.unrendered = p.at("tail");
            s.tail_start = s.messages.size();
            turn_answered = false;
        } else if (ev.type == "agent.compact") {
            turn.reset();
            s.messages = p.at("messages");
            s.context.clear();
            s.pending.clear();
            if (p.contains("tokens")) {
                s.pending = ids(p.at("tokens"));
            }
            s.needs_full_render = s.pending.empty();
            s.unrendered = json::array();
            s.last_eos = true;
            s.base_tokens = static_cast<std::int64_t>(s.pending.size());
            s.tail_start = 0;
            turn_answered = false;
        } else if (turn && (ev.type == "tool.call" || ev.type == "tool.result")) {
            const std::string id = p.value("call_id", "");
            const json& calls = turn->assistant.contains("tool_calls")
                                    ? turn->assistant.at("tool_calls")
                                    : json::array();
            for (std::size_t i = 0; i < calls.size(); ++i) {
                if (calls[i].value("id", "") != id) {
                    continue;
                }
                if (ev.type == "tool.call") {
                    turn->call_seqs[i] = p.at("seq").get<std::int64_t>();
                } else {
                    turn->results[i] = p;
                }
            }
        }
    }
    if (!started && task_seen) {
        s.not_started = true;  // ended before its first prompt was rendered: start it now
        return s;
    }
    if (!started) {
        throw std::runtime_error("session " + session_id +
                                 " has no agent state in its journal: it cannot be resumed");
    }
    if (last_step != std::numeric_limits<std::int64_t>::max() && s.steps < last_step) {
        throw std::runtime_error("session " + session_id + " has no step " +
                                 std::to_string(last_step) + " (it has " + std::to_string(s.steps) +
                                 ")");
    }
    if (turn) {
        if (turn_answered) {
            s.answered = true;
            s.final_text = turn->assistant.value("content", "");
            s.messages.push_back(turn->assistant);
            s.tail_start = s.messages.size();
        } else {
            s.unfinished = std::move(turn);
        }
    }
    return s;
}

}  // namespace

void drop_partial_turn(ResumeState& state) {
    if (!state.partial_turn) {
        return;
    }
    state.context.resize(state.context.size() - state.partial_tokens);
    state.pending = state.partial_fed;
    state.last_eos = state.partial_eos_before;
    state.messages.erase(state.messages.size() - 1);
    state.next_script_turn = state.partial_script_turn;
    state.partial_turn = false;
}

ResumeState read_resume_state(memory::Database& db, const std::string& session_id) {
    const auto events = memory::read_journal(db, session_id);
    ResumeState s =
        replay(events, events.size(), session_id, std::numeric_limits<std::int64_t>::max());
    for (const auto& ev : events) {
        s.streamed_events += ev.type.rfind("agent.", 0) != 0 ? 1 : 0;
    }
    return s;
}

ResumeState read_fork_state(memory::Database& db, const std::string& session_id,
                            std::int64_t step) {
    if (step < 0) {
        throw std::runtime_error("a fork step must be 0 or more, got " + std::to_string(step));
    }
    const auto events = memory::read_journal(db, session_id);
    ResumeState s = replay(events, events.size(), session_id, step);
    if (s.unfinished) {
        throw std::runtime_error("step " + std::to_string(step) + " of session " + session_id +
                                 " did not finish its tool calls: fork at an earlier step");
    }
    return s;
}

json fork_start_record(const ResumeState& state) {
    return {{"type", "agent.start"},
            {"prompt", state.prompt},
            {"mode", state.mode},
            {"permission", state.permission},
            {"messages", state.messages},
            {"tokens", state.pending},
            {"context", state.context},
            {"tail_start", state.tail_start},
            {"eos", state.last_eos},
            {"script_turn", state.next_script_turn},
            {"base_tokens", state.base_tokens},
            {"forked_from", state.session_id},
            {"fork_step", state.steps}};
}

}  // namespace osprey::agent
