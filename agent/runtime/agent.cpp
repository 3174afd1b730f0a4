#include "agent/runtime/agent.hpp"

#include <fstream>
#include <mutex>
#include <sstream>

#include "tools/core/json_schema.hpp"

namespace osprey::agent {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::string_view kInstructions =
    "You are Osprey, a coding agent working inside the user's project. Use the tools to read "
    "code, make edits and run commands; never guess file contents. Keep edits minimal and "
    "correct, run the project's tests when you change code, and finish with a short answer that "
    "says what you did. A tool result that starts with \"error:\" or \"denied:\" explains what "
    "went wrong: change the call rather than repeating it.";

constexpr std::string_view kSummaryRequest =
    "The context is nearly full. Summarise the task and everything done so far for yourself: "
    "files read and changed, commands run and their results, what remains to do. Do not call "
    "tools; answer with the summary only.";

std::int64_t ms(std::chrono::milliseconds d) {
    return static_cast<std::int64_t>(d.count());
}

// Runs `work` on `pool` and resumes the awaiting coroutine on its own executor with the result
// (or the exception `work` threw).
template <class T, class F>
asio::awaitable<T> on_pool(asio::thread_pool& pool, F work) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                            void(std::exception_ptr, T)>(
        [&pool, ex](auto handler, F fn) mutable {
            asio::post(pool, [ex, fn = std::move(fn), handler = std::move(handler)]() mutable {
                std::exception_ptr error;
                T value{};
                try {
                    value = fn();
                } catch (...) {
                    error = std::current_exception();
                }
                asio::post(
                    ex, [handler = std::move(handler), error, value = std::move(value)]() mutable {
                        handler(error, std::move(value));
                    });
            });
        },
        asio::use_awaitable, std::move(work));
}

// Runs every job concurrently on `pool`; completes once with all results, in job order.
template <class T>
asio::awaitable<std::vector<T>> all_on_pool(asio::thread_pool& pool,
                                            std::vector<std::function<T()>> jobs) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                            void(std::exception_ptr, std::vector<T>)>(
        [&pool, ex](auto handler, std::vector<std::function<T()>> work) mutable {
            using Handler = decltype(handler);
            struct Shared {
                std::mutex mutex;
                std::size_t left = 0;
                std::vector<T> results;
                std::optional<Handler> handler;
            };
            auto shared = std::make_shared<Shared>();
            shared->left = work.size();
            shared->results.resize(work.size());
            shared->handler.emplace(std::move(handler));
            if (work.empty()) {
                asio::post(ex, [shared]() mutable {
                    (*shared->handler)(nullptr, std::move(shared->results));
                });
                return;
            }
            for (std::size_t i = 0; i < work.size(); ++i) {
                asio::post(pool, [ex, shared, i, fn = std::move(work[i])]() mutable {
                    T value = fn();
                    bool last = false;
                    {
                        std::lock_guard lock(shared->mutex);
                        shared->results[i] = std::move(value);
                        last = --shared->left == 0;
                    }
                    if (last) {
                        asio::post(ex, [shared]() mutable {
                            (*shared->handler)(nullptr, std::move(shared->results));
                        });
                    }
                });
            }
        },
        asio::use_awaitable, std::move(jobs));
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// What permission rules match for a call: the command for shell, the path for file tools.
std::string permission_subject(const json& args) {
    for (const char* key : {"command", "path", "file", "pattern"}) {
        if (args.is_object() && args.contains(key) && args.at(key).is_string()) {
            return args.at(key).get<std::string>();
        }
    }
    return {};
}

ToolAccess access_of(tools::Permission p) {
    switch (p) {
        case tools::Permission::read:
            return ToolAccess::read;
        case tools::Permission::write:
            return ToolAccess::write;
        case tools::Permission::execute:
            return ToolAccess::execute;
    }
    return ToolAccess::execute;
}

json tool_specs(const tools::Registry& registry) {
    json specs = json::array();
    for (const auto& t : registry.tools()) {
        specs.push_back(
            {{"type", "function"},
             {"function",
              {{"name", t.name}, {"description", t.description}, {"parameters", t.schema}}}});
    }
    return specs;
}

}  // namespace

model::ChatOptions chat_options_for(std::string_view mode) {
    model::ChatOptions o;
    if (mode == "chat") {
        o.mode = model::ThinkingMode::chat;
    } else if (mode == "think") {
        o.mode = model::ThinkingMode::thinking;
        o.effort = model::ReasoningEffort::high;
    } else if (mode == "max") {
        o.mode = model::ThinkingMode::thinking;
        o.effort = model::ReasoningEffort::max;
    } else {
        throw std::invalid_argument("unknown mode '" + std::string(mode) +
                                    "' (expected chat, think or max)");
    }
    return o;
}

std::string system_prompt(const std::filesystem::path& workspace,
                          const std::vector<std::string>& notes,
                          std::optional<std::string_view> instructions) {
    std::string text(instructions.value_or(kInstructions));
    text += "\n\nWorkspace root: " + workspace.string();
    for (const char* name : {"AGENTS.md", "CLAUDE.md"}) {
        if (auto memory = read_text(workspace / name)) {
            text += "\n\nProject instructions (" + std::string(name) + "):\n" + *memory;
            break;
        }
    }
    if (!notes.empty()) {
        text +=
            "\n\nNotes saved in earlier sessions in this workspace (the `memory` tool keeps "
            "them):";
        for (const auto& note : notes) {
            text += "\n- " + note;
        }
    }
    return text;
}

struct Agent::CallOutcome {
    std::string status = "ok";  // ok | error | denied | interrupted
    std::string output;
    json data = json::object();
    std::int64_t duration_ms = 0;
    std::vector<tools::TodoItem> todos;
};

Agent::Agent(asio::io_context& io, ModelClient& model, tools::Registry& registry,
             AgentOptions options, std::string session_id, memory::Journal* journal,
             memory::ToolLog* tool_log, Sink sink)
    : io_(io),
      model_(model),
      registry_(registry),
      options_(std::move(options)),
      chat_(chat_options_for(options_.mode)),
      policy_(options_.permission, options_.rules),
      stamper_(session_id, options_.first_seq),
      journal_(journal),
      tool_log_(tool_log),
      sink_(std::move(sink)),
      session_id_(std::move(session_id)),
      tool_ctx_(tools::Workspace(options_.workspace)),
      tool_pool_(std::max<std::size_t>(1, options_.tool_workers)) {
    tool_ctx_.cancel = &cancel_;  // shell stops on Ctrl-C, SIGTERM and --timeout
    tool_ctx_.data_dir = options_.data_dir;
}

Agent::~Agent() {
    cancel_ = true;
    compute_.join();
    tool_pool_.join();
}

json Agent::emit(std::string_view type, json fields, memory::Durability durability) {
    json event = stamper_.stamp(type, std::move(fields));
    if (journal_ != nullptr) {
        journal_->append(type, event.dump(-1, ' ', false, json::error_handler_t::replace),
                         stamper_.step(), durability);
    }
    if (sink_) {
        sink_(event);
    }
    return event;
}

void Agent::interrupt(int exit_code) {
    if (interrupt_code_ == 0) {
        interrupt_code_ = exit_code;
    }
    cancel_ = true;
}

void Agent::on_parse_event(const model::ParseEvent& event) {
    if (parse_observer_) {
        parse_observer_(event);
    }
    if (event.kind == model::ParseEventKind::reasoning_delta) {
        emit("reasoning.delta", {{"text", event.text}}, memory::Durability::batched);
    } else if (event.kind == model::ParseEventKind::text_delta) {
        emit("text.delta", {{"text", event.text}}, memory::Durability::batched);
    }
}

Agent::CallOutcome Agent::run_call(const std::string& name, const json& args, std::int64_t step) {
    CallOutcome out;
    const auto t0 = Clock::now();
    tools::ToolContext ctx = tool_ctx_;
    if (options_.before_file_change) {
        ctx.before_change = [this, step](const std::filesystem::path& path) {
            options_.before_file_change(session_id_, step, path);
        };
    }
    try {
        tools::ToolResult r = registry_.call(name, args, ctx);
        out.output = r.text;
        out.data = r.data.is_object() ? r.data : json{{"value", r.data}};
    } catch (const tools::ToolError& e) {
        const std::string what = e.what();
        if (cancel_.load() && what.rfind("interrupted", 0) == 0) {
            out.status = "interrupted";
            out.output = "interrupted: the user stopped this tool";
        } else {
            out.status = "error";
            out.output = "error: " + name + " failed: " + what;
        }
    } catch (const std::exception& e) {
        out.status = "error";
        out.output = "error: " + name + " failed: " + e.what();
    }
    out.todos = ctx.todos;
    out.duration_ms = ms(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0));
    return out;
}

AgentOutcome Agent::finish(AgentOutcome outcome) {
    outcome.steps = totals_.steps;
    outcome.prompt_tokens = totals_.prompt_tokens;
    outcome.decoded_tokens = totals_.decoded_tokens;
    outcome.context_tokens = model_.context_tokens();
    emit("session.completed", {{"exit_reason", outcome.exit_reason},
                               {"exit_code", outcome.exit_code},
                               {"final_text", outcome.final_text},
                               {"steps", outcome.steps},
                               {"prompt_tokens", outcome.prompt_tokens},
                               {"decoded_tokens", outcome.decoded_tokens},
                               {"context_tokens", outcome.context_tokens}});
    if (journal_ != nullptr) {
        journal_->flush();
    }
    return outcome;
}

asio::awaitable<std::optional<TurnOutput>> Agent::model_turn(std::vector<std::int32_t>& pending,
                                                             bool& last_eos) {
    ++totals_.steps;
    stamper_.set_step(totals_.steps);
    if (!last_eos) {
        // The previous turn stopped before its end of sentence; the rendered history has one.
        pending.insert(pending.begin(), model_.eos_id());
    }
    const std::int64_t reused = model_.context_tokens();
    const std::int64_t appended = static_cast<std::int64_t>(pending.size());
    last_fed_ = pending;
    const model::ThinkingMode thinking = chat_.mode;
    std::chrono::milliseconds prefill_time{0};
    TurnOutput turn;
    try {
        prefill_time = co_await on_pool<std::chrono::milliseconds>(compute_, [this, &pending] {
            const auto took = model_.append(pending);
            if (options_.checkpoint) {
                if (auto then = options_.checkpoint(session_id_, false)) {
                    asio::post(io_, std::move(then));
                }
            }
            return took;
        });
        pending.clear();  // in the session now, whatever happens to the generation
        totals_.prompt_tokens += appended;
        emit("turn.started", {{"prompt_tokens", appended}});
        const std::int64_t left = options_.budgets.max_tokens
                                      ? *options_.budgets.max_tokens - totals_.decoded_tokens
                                      : std::numeric_limits<std::int64_t>::max();
        turn = co_await on_pool<TurnOutput>(compute_, [this, thinking, left] {
            TurnOutput out =
                model_.generate_turn(thinking, left, cancel_, [this](const model::ParseEvent& ev) {
                    asio::post(io_, [this, ev] { on_parse_event(ev); });
                });
            if (options_.checkpoint && out.finish != FinishReason::cancelled) {
                if (auto then = options_.checkpoint(session_id_, true)) {
                    asio::post(io_, std::move(then));
                }
            }
            return out;
        });
    } catch (const std::exception& e) {
        emit("error", {{"code", "model_error"}, {"message", e.what()}, {"recoverable", false}});
        co_return std::nullopt;
    }
    pending.clear();
    last_generated_.assign(model_.tokens().end() - turn.decoded_tokens, model_.tokens().end());
    last_eos = turn.ended_with_eos;
    totals_.decoded_tokens += turn.decoded_tokens;
    emit("turn.completed", {{"finish_reason", std::string(to_string(turn.finish))}});
    emit("usage", {{"prompt_tokens", appended},
                   {"decoded_tokens", turn.decoded_tokens},
                   {"reused_tokens", reused},
                   {"context_tokens", model_.context_tokens()},
                   {"prefill_ms", ms(prefill_time)},
                   {"decode_ms", ms(turn.decode_time)}});
    co_return turn;
}

void Agent::record(std::string_view type, json fields) {
    if (journal_ == nullptr) {
        return;
    }
    fields["type"] = type;
    fields["step"] = stamper_.step();
    journal_->append(type, fields.dump(-1, ' ', false, json::error_handler_t::replace),
                     stamper_.step(), memory::Durability::commit_now);
}

void Agent::emit_started(const std::optional<std::string>& resumed_from, const json& restore) {
    json tool_names = json::array();
    for (const auto& t : registry_.tools()) {
        tool_names.push_back(t.name);
    }
    json fields = {{"model", model_.fingerprint()},
                   {"mode", options_.mode},
                   {"workspace", options_.workspace.string()},
                   {"permission", std::string(to_string(options_.permission))},
                   {"tools", tool_names}};
    if (resumed_from) {
        fields["resumed_from"] = *resumed_from;
    }
    for (auto& [key, value] : restore.items()) {
        fields[key] = value;
    }
    emit("session.started", std::move(fields));
}

void Agent::begin() {
    if (began_) {
        return;
    }
    began_ = true;
    started_ = Clock::now();
    emit_started(std::nullopt, json::object());
}

void Agent::begin_resumed(ResumeState& state, const std::string& resumed_from,
                          const json& restore_info) {
    began_ = true;
    started_ = Clock::now();
    totals_.steps = state.steps;
    stamper_.set_step(state.steps);
    emit_started(resumed_from, restore_info);
    model_.set_next_script_turn(state.next_script_turn);
    messages_ = std::move(state.messages);
    pending_ = std::move(state.pending);
    pending_from_ = state.tail_start;
    last_eos_ = state.last_eos;
    base_tokens_ = state.base_tokens;
    unrendered_ = std::move(state.unrendered);
    needs_full_render_ = state.needs_full_render;
    totals_.final_text = state.final_text;
    open_turn_ = std::move(state.unfinished);
}

asio::awaitable<std::optional<AgentOutcome>> Agent::settle_open_turn() {
    if (!open_turn_) {
        co_return std::nullopt;
    }
    UnfinishedTurn turn = std::move(*open_turn_);
    open_turn_.reset();
    json tail = json::array();
    const bool loop_stop = co_await answer_calls(turn, tail);
    if (turn.interrupted) {
        // The scripted test double plays the cut-off turn again, as a model told of the
        // interruption would redo its calls.
        model_.set_next_script_turn(turn.script_turn);
    }
    messages_.push_back(turn.assistant);
    unrendered_ = tail;
    record("agent.unrendered", {{"assistant", turn.assistant}, {"tail", tail}});
    if (cancel_.load()) {
        co_return interrupted_outcome();
    }
    if (loop_stop) {
        emit("error", {{"code", "loop"},
                       {"message",
                        "the same tool call returned the same result four times in a row; the "
                        "task was stopped"},
                       {"recoverable", false}});
        co_return turn_result({3, "loop", "", 0, 0, 0, 0});
    }
    co_return std::nullopt;
}

// --timeout for the life of one run (headless task or resume): when it fires, the task is
// cancelled as timed out.
class Agent::TimeoutScope {
public:
    explicit TimeoutScope(Agent& agent) : timer_(agent.io_) {
        if (agent.options_.budgets.timeout) {
            timer_.expires_after(*agent.options_.budgets.timeout);
            timer_.async_wait([&agent](const boost::system::error_code& ec) {
                if (!ec) {
                    agent.timed_out_ = true;
                    agent.cancel_ = true;
                }
            });
        }
    }
    ~TimeoutScope() { timer_.cancel(); }

private:
    asio::steady_timer timer_;
};

asio::awaitable<AgentOutcome> Agent::resume(ResumeState state, std::string resumed_from,
                                            json restore_info) {
    const bool answered = state.answered;
    begin_resumed(state, resumed_from, restore_info);
    const TimeoutScope timeout(*this);
    const bool follow_up = options_.prompt.find_first_not_of(" \t\r\n") != std::string::npos;
    if (!follow_up && open_turn_) {
        // Go on where the task stopped: answer the open calls and continue the same turn.
        co_return finish(co_await loop(std::exchange(open_turn_, std::nullopt)));
    }
    if (std::optional<AgentOutcome> stopped = co_await settle_open_turn()) {
        co_return finish(std::move(*stopped));
    }
    if (follow_up) {
        co_return finish(co_await run_turn(options_.prompt));
    }
    if (answered && pending_.empty() && unrendered_.empty()) {
        co_return finish(turn_result({0, "done", totals_.final_text, 0, 0, 0, 0}));
    }
    if (pending_.empty() || needs_full_render_) {
        // Tool results (or a compacted history) still to render: they go in as the next turn.
        try {
            json tail = std::move(unrendered_);
            unrendered_ = json::array();
            if (messages_.empty() || needs_full_render_) {
                for (auto& m : tail) {
                    messages_.push_back(m);
                }
                pending_ = model_.encode(model::render_chat(messages_, chat_));
                pending_from_ = 0;
                needs_full_render_ = false;
                base_tokens_ = static_cast<std::int64_t>(pending_.size());
            } else {
                pending_ = model_.encode(model::render_chat_suffix(messages_, tail, chat_));
                pending_from_ = messages_.size();
                for (auto& m : tail) {
                    messages_.push_back(m);
                }
            }
        } catch (const std::exception& e) {
            emit("error", {{"code", "model_error"},
                           {"message", std::string("cannot render the history: ") + e.what()},
                           {"recoverable", false}});
            co_return finish(turn_result({1, "failed", "", 0, 0, 0, 0}));
        }
        record_prompt(false);
    }
    co_return finish(co_await loop(std::nullopt));
}

void Agent::record_prompt(bool first) {
    json fields = {{"messages", messages_},
                   {"tokens", pending_},
                   {"tail_start", pending_from_},
                   {"base_tokens", base_tokens_}};
    if (first) {
        fields["prompt"] = options_.prompt;
        fields["mode"] = options_.mode;
        fields["permission"] = std::string(to_string(options_.permission));
    }
    record(first ? "agent.start" : "agent.prompt", std::move(fields));
}

asio::awaitable<AgentOutcome> Agent::run() {
    begin();
    const TimeoutScope timeout(*this);
    AgentOutcome outcome = co_await run_turn(options_.prompt);
    co_return finish(std::move(outcome));
}

void Agent::clear_interrupt() {
    cancel_ = false;
    interrupt_code_ = 0;
    timed_out_ = false;
}

void Agent::set_mode(std::string_view mode) {
    chat_ = chat_options_for(mode);
    options_.mode = std::string(mode);
}

void Agent::set_approver(std::function<Approval(const ApprovalRequest&)> approver) {
    approver_ = std::move(approver);
}

void Agent::set_parse_observer(std::function<void(const model::ParseEvent&)> observer) {
    parse_observer_ = std::move(observer);
}

AgentOutcome Agent::totals() const {
    AgentOutcome t = totals_;
    t.context_tokens = model_.context_tokens();
    return t;
}

AgentOutcome Agent::turn_result(AgentOutcome outcome) {
    outcome.steps = totals_.steps;
    outcome.prompt_tokens = totals_.prompt_tokens;
    outcome.decoded_tokens = totals_.decoded_tokens;
    outcome.context_tokens = model_.context_tokens();
    return outcome;
}

AgentOutcome Agent::interrupted_outcome() {
    AgentOutcome o;
    if (timed_out_) {
        o.exit_code = 3;
        o.exit_reason = "budget";
        emit("error", {{"code", "budget"},
                       {"message", "reached --timeout " +
                                       std::to_string(options_.budgets.timeout->count()) + " ms"},
                       {"recoverable", false}});
    } else {
        o.exit_code = interrupt_code_ != 0 ? interrupt_code_ : 130;
        o.exit_reason = "interrupted";
    }
    return turn_result(o);
}

asio::awaitable<AgentOutcome> Agent::run_turn(std::string user_message) {
    begin();
    if (std::optional<AgentOutcome> stopped = co_await settle_open_turn()) {
        co_return *stopped;
    }
    const bool first = messages_.empty();
    // Render what is new: the whole prompt the first time, else the suffix after the history.
    try {
        json tail = std::move(unrendered_);
        unrendered_ = json::array();
        tail.push_back({{"role", "user"}, {"content", user_message}});
        std::vector<std::int32_t> tokens;
        if (messages_.empty() || needs_full_render_) {
            if (messages_.empty()) {
                messages_.push_back(
                    {{"role", "system"},
                     {"content", system_prompt(options_.workspace, options_.project_notes,
                                               options_.instructions)},
                     {"tools", tool_specs(registry_)}});
            }
            for (auto& m : tail) {
                messages_.push_back(m);
            }
            tokens = model_.encode(model::render_chat(messages_, chat_));
            needs_full_render_ = false;
            pending_from_ = 0;
            base_tokens_ = static_cast<std::int64_t>(tokens.size());
        } else {
            tokens = model_.encode(model::render_chat_suffix(messages_, tail, chat_));
            pending_from_ = messages_.size();
            for (auto& m : tail) {
                messages_.push_back(m);
            }
        }
        pending_.insert(pending_.end(), tokens.begin(), tokens.end());
    } catch (const std::exception& e) {
        emit("error", {{"code", "model_error"},
                       {"message", std::string("cannot render the prompt: ") + e.what()},
                       {"recoverable", false}});
        co_return turn_result({1, "failed", "", 0, 0, 0, 0});
    }
    record_prompt(first);
    co_return co_await loop(std::nullopt);
}

asio::awaitable<bool> Agent::answer_calls(UnfinishedTurn& turn, json& tail) {
    const auto& calls = turn.calls;
    if (turn.parse_error) {
        // Malformed output: nothing is run; the model is told what was wrong.
        const std::string message = "your last output could not be parsed: " + *turn.parse_error;
        if (turn.results.empty()) {
            emit("error", {{"code", "parse_error"}, {"message", message}, {"recoverable", true}});
        }
        tail.push_back({{"role", "tool"},
                        {"tool_call_id", ""},
                        {"content", "error: " + message +
                                        ". No tool was run; write the tool calls again in the "
                                        "exact DSML format."}});
        co_return false;
    }
    std::vector<std::string> ids;
    std::vector<json> arguments(calls.size(), json::object());
    std::vector<std::optional<CallOutcome>> early(calls.size());
    std::vector<bool> reported(calls.size(), false);
    std::vector<std::int64_t> log_ids(calls.size(), -1);
    std::vector<std::function<CallOutcome()>> jobs;
    std::vector<std::size_t> job_index;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        const auto& call = calls[i];
        ids.push_back(turn.assistant.at("tool_calls").at(i).value("id", ""));
        bool parsed = true;
        try {
            arguments[i] = json::parse(call.arguments);
            parsed = arguments[i].is_object();
        } catch (const json::parse_error&) {
            parsed = false;
        }
        if (auto known = turn.results.find(i); known != turn.results.end()) {
            // Answered before the process ended: the result is already journaled.
            CallOutcome o;
            o.status = known->second.value("status", "ok");
            o.output = known->second.value("output", "");
            early[i] = std::move(o);
            reported[i] = true;
            continue;
        }
        std::int64_t call_seq = -1;
        if (auto seq = turn.call_seqs.find(i); seq != turn.call_seqs.end()) {
            call_seq = seq->second;
            if (tool_log_ != nullptr) {
                if (auto ran = tool_log_->find(session_id_, call_seq)) {
                    // It started and the process ended before its result was saved: it is not
                    // run again, and the model is told.
                    tool_log_->finish(ran->id, memory::ToolStatus::interrupted,
                                      "interrupted: the process ended", std::nullopt, 0);
                    CallOutcome o;
                    o.status = "interrupted";
                    o.output =
                        "interrupted: Osprey stopped while this tool was running (the process "
                        "ended); it was not run again. Check its effects before repeating it.";
                    early[i] = std::move(o);
                    turn.interrupted = true;
                    continue;
                }
            }
        } else {
            const json shown = parsed ? arguments[i] : json::object();
            const json ev = emit("tool.call", {{"call_id", ids.back()},
                                               {"name", call.name},
                                               {"arguments", shown},
                                               {"raw", call.raw}});
            call_seq = ev.at("seq").get<std::int64_t>();
        }
        CallOutcome o;
        const tools::Tool* tool = registry_.find(call.name);
        if (!parsed) {
            o.status = "error";
            o.output = "error: the arguments of " + call.name +
                       " are not a JSON object: " + call.arguments;
            emit("error",
                 {{"code", "invalid_arguments"}, {"message", o.output}, {"recoverable", true}});
        } else if (tool == nullptr) {
            std::string names;
            for (const auto& t : registry_.tools()) {
                names += (names.empty() ? "" : ", ") + t.name;
            }
            o.status = "error";
            o.output = "error: unknown tool '" + call.name + "'. Available tools: " + names;
            emit("error", {{"code", "unknown_tool"}, {"message", o.output}, {"recoverable", true}});
        } else if (auto problems = tools::validate_json(tool->schema, arguments[i]);
                   !problems.empty()) {
            std::string list;
            for (const auto& p : problems) {
                list += "\n- " + p;
            }
            o.status = "error";
            o.output = "error: invalid arguments for " + call.name + ":" + list;
            emit("error",
                 {{"code", "invalid_arguments"}, {"message", o.output}, {"recoverable", true}});
        } else {
            const std::string subject = permission_subject(arguments[i]);
            PermissionVerdict verdict =
                policy_.check(call.name, access_of(tool->permission), subject);
            bool declined = false;
            if (verdict.decision == Decision::ask && approver_ && !cancel_.load()) {
                const Approval answer = approver_({call.name, subject, arguments[i]});
                if (answer == Approval::always) {
                    // Commands: this exact command; file tools: any path.
                    policy_.allow_always(
                        call.name,
                        tool->permission == tools::Permission::execute && !subject.empty() ? subject
                                                                                           : "*");
                }
                declined = answer == Approval::no;
                if (!declined) {
                    verdict.decision = Decision::allow;
                }
            }
            if (verdict.decision == Decision::allow) {
                if (tool_log_ != nullptr && call_seq >= 0) {
                    log_ids[i] =
                        tool_log_->begin(session_id_, call_seq, call.name, arguments[i].dump());
                }
                job_index.push_back(i);
                jobs.push_back([this, name = call.name, args = arguments[i], step = turn.step] {
                    return run_call(name, args, step);
                });
                continue;
            }
            o.status = "denied";
            o.output = "denied: " +
                       (declined ? "the user declined this call; ask them or take another way"
                        : verdict.decision == Decision::ask
                            ? "this call needs the user's approval, and a headless run cannot "
                              "ask; the user can allow it with --permission auto or --allow '" +
                                  call.name + "(PATTERN)'"
                            : verdict.reason);
        }
        early[i] = std::move(o);
    }
    std::vector<CallOutcome> ran = co_await all_on_pool<CallOutcome>(tool_pool_, std::move(jobs));
    for (std::size_t k = 0; k < ran.size(); ++k) {
        early[job_index[k]] = std::move(ran[k]);
    }
    bool loop_stop = false;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        CallOutcome& o = *early[i];
        if (o.status == "ok" && calls[i].name == "todo") {
            tool_ctx_.todos = o.todos;
        }
        if (!reported[i]) {
            const LoopGuard::Verdict v = guard_.observe(calls[i].name, arguments[i], o.output);
            if (v == LoopGuard::Verdict::warn) {
                o.output += "\n\n" + LoopGuard::warning();
            } else if (v == LoopGuard::Verdict::stop) {
                loop_stop = true;
            }
            json fields = {{"call_id", ids[i]},
                           {"name", calls[i].name},
                           {"status", o.status},
                           {"output", o.output},
                           {"duration_ms", o.duration_ms}};
            if (!o.data.empty()) {
                fields["data"] = o.data;
            }
            emit("tool.result", fields);
            if (tool_log_ != nullptr && log_ids[i] >= 0) {
                const memory::ToolStatus status =
                    o.status == "ok"       ? memory::ToolStatus::ok
                    : o.status == "denied" ? memory::ToolStatus::denied
                    : o.status == "error"  ? memory::ToolStatus::error
                                           : memory::ToolStatus::interrupted;
                tool_log_->finish(log_ids[i], status, o.output, std::nullopt, o.duration_ms);
            }
        }
        tail.push_back({{"role", "tool"}, {"tool_call_id", ids[i]}, {"content", o.output}});
    }
    co_return loop_stop;
}

asio::awaitable<AgentOutcome> Agent::loop(std::optional<UnfinishedTurn> carried) {
    const auto interrupted = [this]() { return interrupted_outcome(); };
    json& messages = messages_;
    std::vector<std::int32_t>& pending = pending_;
    bool& last_eos = last_eos_;
    std::int64_t& base_tokens = base_tokens_;
    while (true) {
        UnfinishedTurn turn;
        if (carried) {
            turn = std::move(*carried);
            carried.reset();
        } else {
            const auto elapsed =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
            if (cancel_.load()) {
                co_return interrupted();
            }
            if (auto over = exceeded_budget(options_.budgets, totals_.steps, totals_.decoded_tokens,
                                            elapsed)) {
                emit("error", {{"code", "budget"}, {"message", *over}, {"recoverable", false}});
                co_return turn_result({3, "budget", "", 0, 0, 0, 0});
            }
            std::optional<TurnOutput> produced = co_await model_turn(pending, last_eos);
            if (!produced) {
                co_return turn_result({1, "failed", "", 0, 0, 0, 0});
            }
            TurnOutput& out = *produced;
            if (out.finish == FinishReason::cancelled || out.finish == FinishReason::max_tokens) {
                // What was generated stays in the session; the next turn closes it with an EOS.
                json partial = model::message_to_json(out.message);
                partial.erase("tool_calls");
                record("agent.turn", {{"assistant", partial},
                                      {"calls", json::array()},
                                      {"parse_error", nullptr},
                                      {"fed", last_fed_},
                                      {"tokens", last_generated_},
                                      {"eos", out.ended_with_eos},
                                      {"script_turn", model_.script_turn()},
                                      {"partial", true}});
                messages.push_back(std::move(partial));
            }
            if (out.finish == FinishReason::cancelled) {
                co_return interrupted();
            }
            if (out.finish == FinishReason::max_tokens) {
                emit("error", {{"code", "budget"},
                               {"message", "reached --max-tokens " +
                                               std::to_string(*options_.budgets.max_tokens)},
                               {"recoverable", false}});
                co_return turn_result({3, "budget", out.message.content, 0, 0, 0, 0});
            }
            turn = turn_from(out);
            if (!turn.parse_error && turn.calls.empty()) {
                totals_.final_text = out.message.content;
                messages.push_back(turn.assistant);
                co_return turn_result({0, "done", out.message.content, 0, 0, 0, 0});
            }
        }

        json tail = json::array();
        const bool loop_stop = co_await answer_calls(turn, tail);
        if (turn.interrupted) {
            // The scripted test double plays the cut-off turn again, as a model told of the
            // interruption would redo its calls.
            model_.set_next_script_turn(turn.script_turn);
        }
        const json assistant = turn.assistant;
        if (cancel_.load() || loop_stop) {
            // The calls are in the session; their results go in with the next message.
            messages.push_back(assistant);
            unrendered_ = tail;
            record("agent.unrendered", {{"assistant", assistant}, {"tail", tail}});
        }
        if (cancel_.load()) {
            co_return interrupted();
        }
        if (loop_stop) {
            emit("error",
                 {{"code", "loop"},
                  {"message",
                   "the same tool call returned the same result four times in a row; the task "
                   "was stopped"},
                  {"recoverable", false}});
            co_return turn_result({3, "loop", "", 0, 0, 0, 0});
        }
        try {
            json context = messages;
            context.push_back(assistant);
            const std::string suffix = model::render_chat_suffix(context, tail, chat_);
            pending_from_ = context.size();
            messages = std::move(context);
            for (auto& m : tail) {
                messages.push_back(m);
            }
            pending = model_.encode(suffix);
        } catch (const std::exception& e) {
            emit("error", {{"code", "model_error"},
                           {"message", std::string("cannot render the tool results: ") + e.what()},
                           {"recoverable", false}});
            co_return turn_result({1, "failed", "", 0, 0, 0, 0});
        }
        record("agent.append", {{"tail", tail}, {"tokens", pending}});
        const std::int64_t context_now = model_.context_tokens();
        if (options_.context_limit &&
            context_now + static_cast<std::int64_t>(pending.size()) >=
                *options_.context_limit * 4 / 5 &&
            context_now + static_cast<std::int64_t>(pending.size()) - base_tokens >=
                *options_.context_limit / 8) {
            if (std::optional<AgentOutcome> stopped = co_await compact_session()) {
                co_return *stopped;
            }
            try {
                pending = model_.encode(model::render_chat(messages, chat_));
                needs_full_render_ = false;
                pending_from_ = 0;
                base_tokens = static_cast<std::int64_t>(pending.size());
            } catch (const std::exception& e) {
                emit("error",
                     {{"code", "model_error"},
                      {"message", std::string("cannot render the compacted context: ") + e.what()},
                      {"recoverable", false}});
                co_return turn_result({1, "failed", "", 0, 0, 0, 0});
            }
            record_prompt(false);
        }
    }
}

asio::awaitable<AgentOutcome> Agent::compact() {
    begin();
    if (messages_.size() < 2 || needs_full_render_) {
        co_return turn_result({0, "done", "", 0, 0, 0, 0});  // nothing to compact
    }
    if (std::optional<AgentOutcome> stopped = co_await compact_session()) {
        co_return *stopped;
    }
    co_return turn_result({0, "done", "", 0, 0, 0, 0});
}

// Compaction: the model summarises in the old session; the old session is kept (journaled in full,
// and handed to options_.keep_old_session); then messages_ becomes system prompt + the first
// request and the summary + the most recent turns that fit in a quarter of the limit, to be
// rendered whole into a fresh session by whoever continues. nullopt when it was done.
asio::awaitable<std::optional<AgentOutcome>> Agent::compact_session() {
    const std::int64_t before =
        model_.context_tokens() + static_cast<std::int64_t>(pending_.size());
    try {
        // The request is rendered together with what is not prefilled yet (tool results), as
        // one turn: [rendered context] + [pending messages, unrendered ones, the request].
        const std::size_t from = pending_.empty() ? messages_.size() : pending_from_;
        json context = json::array();
        json request = json::array();
        for (std::size_t i = 0; i < messages_.size(); ++i) {
            (i < from ? context : request).push_back(messages_[i]);
        }
        for (auto& m : unrendered_) {
            request.push_back(std::move(m));
        }
        unrendered_ = json::array();
        request.push_back({{"role", "user"}, {"content", std::string(kSummaryRequest)}});
        messages_ = context;
        for (const auto& m : request) {
            messages_.push_back(m);
        }
        pending_ =
            model_.encode(context.empty() ? model::render_chat(messages_, chat_)
                                          : model::render_chat_suffix(context, request, chat_));
    } catch (const std::exception& e) {
        emit("error", {{"code", "model_error"},
                       {"message", std::string("cannot render the summary request: ") + e.what()},
                       {"recoverable", false}});
        co_return turn_result({1, "failed", "", 0, 0, 0, 0});
    }
    json history = messages_;
    history.erase(history.size() - 1);  // the summary request
    std::optional<TurnOutput> summary = co_await model_turn(pending_, last_eos_);
    if (!summary) {
        co_return turn_result({1, "failed", "", 0, 0, 0, 0});
    }
    json answer = model::message_to_json(summary->message);
    answer.erase("tool_calls");
    messages_.push_back(std::move(answer));
    if (summary->finish == FinishReason::cancelled) {
        co_return interrupted_outcome();
    }
    std::string text = summary->message.content;
    if (text.empty()) {
        text = summary->message.reasoning_content;
    }

    // The most recent turns: the longest run of whole messages, starting at an assistant message,
    // whose text fits in a quarter of the limit (of the context now, without one).
    const std::int64_t budget = (options_.context_limit ? *options_.context_limit : before) / 4;
    std::size_t keep_from = history.size();
    std::int64_t used = 0;
    for (std::size_t i = history.size(); i-- > 2;) {
        used += static_cast<std::int64_t>(model_.encode(history[i].dump()).size());
        if (used > budget) {
            break;
        }
        if (history[i].value("role", "") == "assistant") {
            keep_from = i;
        }
    }
    std::string first_request;
    std::string latest_request;
    for (std::size_t i = 1; i < history.size(); ++i) {
        if (history[i].value("role", "") == "user" && history[i].contains("content") &&
            history[i].at("content").is_string()) {
            (first_request.empty() ? first_request : latest_request) =
                history[i].at("content").get<std::string>();
            if (i >= keep_from) {
                latest_request.clear();  // it is among the kept turns
                break;
            }
        }
    }
    std::string intro = first_request;
    if (!latest_request.empty() && latest_request != first_request) {
        intro += "\n\n[The user's latest request:]\n" + latest_request;
    }
    intro += "\n\n[The context was compacted. Your summary of the work so far:]\n" + text;
    json compacted = json::array({history[0], {{"role", "user"}, {"content", intro}}});
    for (std::size_t i = keep_from; i < history.size(); ++i) {
        compacted.push_back(history[i]);
    }

    if (journal_ != nullptr) {
        journal_->flush();
    }
    std::string old_session = session_id_;
    if (options_.keep_old_session) {
        try {
            old_session = options_.keep_old_session(totals_.steps);
        } catch (const std::exception& e) {
            emit("error", {{"code", "compaction"},
                           {"message", std::string("the old session could not be copied (this "
                                                   "session's journal still holds it): ") +
                                           e.what()},
                           {"recoverable", true}});
        }
    }
    model_.reset();
    messages_ = std::move(compacted);
    pending_.clear();
    needs_full_render_ = true;
    record("agent.compact", {{"messages", messages_}});
    last_eos_ = true;
    guard_ = LoopGuard();
    std::int64_t after = 0;
    try {
        after =
            static_cast<std::int64_t>(model_.encode(model::render_chat(messages_, chat_)).size());
    } catch (const std::exception&) {
        after = 0;
    }
    emit("compaction", {{"before_tokens", before},
                        {"after_tokens", after},
                        {"old_session", old_session},
                        {"kept_messages", static_cast<std::int64_t>(history.size() - keep_from)}});
    co_return std::nullopt;
}

UnfinishedTurn Agent::turn_from(const TurnOutput& out) {
    UnfinishedTurn turn;
    turn.step = totals_.steps;
    turn.script_turn = model_.script_turn();
    turn.calls = out.message.tool_calls;
    json assistant = model::message_to_json(out.message);
    if (!out.errors.empty()) {
        turn.parse_error = out.errors.front().text;
        turn.calls.clear();
        assistant.erase("tool_calls");
    }
    for (std::size_t i = 0; i < turn.calls.size(); ++i) {
        assistant["tool_calls"][i]["id"] =
            "call_" + std::to_string(totals_.steps) + "_" + std::to_string(i);
    }
    turn.assistant = assistant;
    json calls = json::array();
    for (const auto& c : turn.calls) {
        calls.push_back({{"name", c.name}, {"arguments", c.arguments}, {"raw", c.raw}});
    }
    record("agent.turn",
           {{"assistant", assistant},
            {"calls", calls},
            {"parse_error", turn.parse_error ? json(*turn.parse_error) : json(nullptr)},
            {"fed", last_fed_},
            {"tokens", last_generated_},
            {"eos", out.ended_with_eos},
            {"script_turn", turn.script_turn}});
    return turn;
}

}  // namespace osprey::agent
