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
                          std::optional<std::string_view> instructions) {
    std::string text(instructions.value_or(kInstructions));
    text += "\n\nWorkspace root: " + workspace.string();
    for (const char* name : {"AGENTS.md", "CLAUDE.md"}) {
        if (auto memory = read_text(workspace / name)) {
            text += "\n\nProject instructions (" + std::string(name) + "):\n" + *memory;
            break;
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
      stamper_(session_id, journal != nullptr ? journal->next_seq() : 0),
      journal_(journal),
      tool_log_(tool_log),
      sink_(std::move(sink)),
      session_id_(std::move(session_id)),
      tool_ctx_(tools::Workspace(options_.workspace)),
      tool_pool_(std::max<std::size_t>(1, options_.tool_workers)) {
    tool_ctx_.cancel = &cancel_;  // shell stops on Ctrl-C, SIGTERM and --timeout
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
    if (event.kind == model::ParseEventKind::reasoning_delta) {
        emit("reasoning.delta", {{"text", event.text}}, memory::Durability::batched);
    } else if (event.kind == model::ParseEventKind::text_delta) {
        emit("text.delta", {{"text", event.text}}, memory::Durability::batched);
    }
}

Agent::CallOutcome Agent::run_call(const std::string& name, const json& args) {
    CallOutcome out;
    const auto t0 = Clock::now();
    tools::ToolContext ctx = tool_ctx_;
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
    const model::ThinkingMode thinking = chat_.mode;
    std::chrono::milliseconds prefill_time{0};
    TurnOutput turn;
    try {
        prefill_time = co_await on_pool<std::chrono::milliseconds>(
            compute_, [this, &pending] { return model_.append(pending); });
        totals_.prompt_tokens += appended;
        emit("turn.started", {{"prompt_tokens", appended}});
        const std::int64_t left = options_.budgets.max_tokens
                                      ? *options_.budgets.max_tokens - totals_.decoded_tokens
                                      : std::numeric_limits<std::int64_t>::max();
        turn = co_await on_pool<TurnOutput>(compute_, [this, thinking, left] {
            return model_.generate_turn(thinking, left, cancel_,
                                        [this](const model::ParseEvent& ev) {
                                            asio::post(io_, [this, ev] { on_parse_event(ev); });
                                        });
        });
    } catch (const std::exception& e) {
        emit("error", {{"code", "model_error"}, {"message", e.what()}, {"recoverable", false}});
        co_return std::nullopt;
    }
    pending.clear();
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

asio::awaitable<AgentOutcome> Agent::run() {
    started_ = Clock::now();
    json tool_names = json::array();
    for (const auto& t : registry_.tools()) {
        tool_names.push_back(t.name);
    }
    emit("session.started", {{"model", model_.fingerprint()},
                             {"mode", options_.mode},
                             {"workspace", options_.workspace.string()},
                             {"permission", std::string(to_string(options_.permission))},
                             {"tools", tool_names}});

    asio::steady_timer timer(io_);
    if (options_.budgets.timeout) {
        timer.expires_after(*options_.budgets.timeout);
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) {
                timed_out_ = true;
                cancel_ = true;
            }
        });
    }
    struct TimerGuard {
        asio::steady_timer& t;
        ~TimerGuard() { t.cancel(); }
    } timer_guard{timer};

    const auto interrupted = [this]() {
        AgentOutcome o;
        if (timed_out_) {
            o.exit_code = 3;
            o.exit_reason = "budget";
            emit("error",
                 {{"code", "budget"},
                  {"message", "reached --timeout " +
                                  std::to_string(options_.budgets.timeout->count()) + " ms"},
                  {"recoverable", false}});
        } else {
            o.exit_code = interrupt_code_ != 0 ? interrupt_code_ : 130;
            o.exit_reason = "interrupted";
        }
        return o;
    };

    json messages = json::array();
    json prompt_tokens_text;
    std::vector<std::int32_t> pending;
    try {
        json system = {{"role", "system"},
                       {"content", system_prompt(options_.workspace, options_.instructions)},
                       {"tools", tool_specs(registry_)}};
        messages.push_back(system);
        messages.push_back({{"role", "user"}, {"content", options_.prompt}});
        pending = model_.encode(model::render_chat(messages, chat_));
    } catch (const std::exception& e) {
        emit("error", {{"code", "model_error"},
                       {"message", std::string("cannot render the prompt: ") + e.what()},
                       {"recoverable", false}});
        co_return finish({1, "failed", "", 0, 0, 0, 0});
    }

    LoopGuard guard;
    bool last_eos = true;
    std::int64_t base_tokens = static_cast<std::int64_t>(pending.size());
    while (true) {
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
        if (cancel_.load()) {
            co_return finish(interrupted());
        }
        if (auto over =
                exceeded_budget(options_.budgets, totals_.steps, totals_.decoded_tokens, elapsed)) {
            emit("error", {{"code", "budget"}, {"message", *over}, {"recoverable", false}});
            co_return finish({3, "budget", "", 0, 0, 0, 0});
        }
        std::optional<TurnOutput> produced = co_await model_turn(pending, last_eos);
        if (!produced) {
            co_return finish({1, "failed", "", 0, 0, 0, 0});
        }
        TurnOutput& turn = *produced;
        if (turn.finish == FinishReason::cancelled) {
            co_return finish(interrupted());
        }
        if (turn.finish == FinishReason::max_tokens) {
            emit("error", {{"code", "budget"},
                           {"message",
                            "reached --max-tokens " + std::to_string(*options_.budgets.max_tokens)},
                           {"recoverable", false}});
            co_return finish({3, "budget", turn.message.content, 0, 0, 0, 0});
        }

        json assistant = model::message_to_json(turn.message);
        json tail = json::array();
        if (!turn.errors.empty()) {
            // Malformed output: nothing is run; the model is told what was wrong.
            const std::string message =
                "your last output could not be parsed: " + turn.errors.front().text;
            emit("error", {{"code", "parse_error"}, {"message", message}, {"recoverable", true}});
            assistant.erase("tool_calls");
            tail.push_back({{"role", "tool"},
                            {"tool_call_id", ""},
                            {"content", "error: " + message +
                                            ". No tool was run; write the tool calls again in "
                                            "the exact DSML format."}});
        } else if (turn.message.tool_calls.empty()) {
            totals_.final_text = turn.message.content;
            co_return finish({0, "done", turn.message.content, 0, 0, 0, 0});
        } else {
            const auto& calls = turn.message.tool_calls;
            std::vector<std::string> ids;
            std::vector<json> arguments(calls.size(), json::object());
            std::vector<std::optional<CallOutcome>> early(calls.size());
            std::vector<std::int64_t> log_ids(calls.size(), -1);
            std::vector<std::function<CallOutcome()>> jobs;
            std::vector<std::size_t> job_index;
            for (std::size_t i = 0; i < calls.size(); ++i) {
                const auto& call = calls[i];
                ids.push_back("call_" + std::to_string(totals_.steps) + "_" + std::to_string(i));
                assistant["tool_calls"][i]["id"] = ids.back();
                bool parsed = true;
                try {
                    arguments[i] = json::parse(call.arguments);
                    if (!arguments[i].is_object()) {
                        parsed = false;
                    }
                } catch (const json::parse_error&) {
                    parsed = false;
                }
                const json shown = parsed ? arguments[i] : json::object();
                const json ev = emit("tool.call", {{"call_id", ids.back()},
                                                   {"name", call.name},
                                                   {"arguments", shown},
                                                   {"raw", call.raw}});
                CallOutcome o;
                const tools::Tool* tool = registry_.find(call.name);
                if (!parsed) {
                    o.status = "error";
                    o.output = "error: the arguments of " + call.name +
                               " are not a JSON object: " + call.arguments;
                    emit("error", {{"code", "invalid_arguments"},
                                   {"message", o.output},
                                   {"recoverable", true}});
                } else if (tool == nullptr) {
                    std::string names;
                    for (const auto& t : registry_.tools()) {
                        names += (names.empty() ? "" : ", ") + t.name;
                    }
                    o.status = "error";
                    o.output = "error: unknown tool '" + call.name + "'. Available tools: " + names;
                    emit("error",
                         {{"code", "unknown_tool"}, {"message", o.output}, {"recoverable", true}});
                } else if (auto problems = tools::validate_json(tool->schema, arguments[i]);
                           !problems.empty()) {
                    std::string list;
                    for (const auto& p : problems) {
                        list += "\n- " + p;
                    }
                    o.status = "error";
                    o.output = "error: invalid arguments for " + call.name + ":" + list;
                    emit("error", {{"code", "invalid_arguments"},
                                   {"message", o.output},
                                   {"recoverable", true}});
                } else {
                    PermissionVerdict verdict = policy_.check(
                        call.name, access_of(tool->permission), permission_subject(arguments[i]));
                    if (verdict.decision == Decision::allow) {
                        if (tool_log_ != nullptr) {
                            log_ids[i] =
                                tool_log_->begin(session_id_, ev.at("seq").get<std::int64_t>(),
                                                 call.name, arguments[i].dump());
                        }
                        job_index.push_back(i);
                        jobs.push_back([this, name = call.name, args = arguments[i]] {
                            return run_call(name, args);
                        });
                        continue;
                    }
                    o.status = "denied";
                    o.output = "denied: " +
                               (verdict.decision == Decision::ask
                                    ? "this call needs the user's approval, and a headless run "
                                      "cannot ask; the user can allow it with --permission "
                                      "auto or --allow '" +
                                          call.name + "(PATTERN)'"
                                    : verdict.reason);
                }
                early[i] = std::move(o);
            }
            std::vector<CallOutcome> ran =
                co_await all_on_pool<CallOutcome>(tool_pool_, std::move(jobs));
            for (std::size_t k = 0; k < ran.size(); ++k) {
                early[job_index[k]] = std::move(ran[k]);
            }
            bool loop_stop = false;
            for (std::size_t i = 0; i < calls.size(); ++i) {
                CallOutcome& o = *early[i];
                if (o.status == "ok" && calls[i].name == "todo") {
                    tool_ctx_.todos = o.todos;
                }
                if (cancel_.load() && o.status == "ok" && log_ids[i] < 0) {
                    // not run: the task is ending
                }
                const LoopGuard::Verdict v = guard.observe(calls[i].name, arguments[i], o.output);
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
                tail.push_back({{"role", "tool"}, {"tool_call_id", ids[i]}, {"content", o.output}});
            }
            if (cancel_.load()) {
                co_return finish(interrupted());
            }
            if (loop_stop) {
                emit("error", {{"code", "loop"},
                               {"message",
                                "the same tool call returned the same result four times in a "
                                "row; the task was stopped"},
                               {"recoverable", false}});
                co_return finish({3, "loop", "", 0, 0, 0, 0});
            }
        }
        json before_tail;
        try {
            json context = messages;
            context.push_back(assistant);
            const std::string suffix = model::render_chat_suffix(context, tail, chat_);
            before_tail = context;
            messages = std::move(context);
            for (auto& m : tail) {
                messages.push_back(m);
            }
            pending = model_.encode(suffix);
        } catch (const std::exception& e) {
            emit("error", {{"code", "model_error"},
                           {"message", std::string("cannot render the tool results: ") + e.what()},
                           {"recoverable", false}});
            co_return finish({1, "failed", "", 0, 0, 0, 0});
        }
        const std::int64_t context_now = model_.context_tokens();
        if (options_.context_limit &&
            context_now + static_cast<std::int64_t>(pending.size()) >=
                *options_.context_limit * 4 / 5 &&
            context_now + static_cast<std::int64_t>(pending.size()) - base_tokens >=
                *options_.context_limit / 8) {
            // Compaction: the model summarises in the old session, then a new one starts from the
            // system prompt + task + summary. The journal keeps the full history.
            try {
                json request = tail;
                request.push_back({{"role", "user"}, {"content", std::string(kSummaryRequest)}});
                pending = model_.encode(model::render_chat_suffix(before_tail, request, chat_));
            } catch (const std::exception& e) {
                emit("error",
                     {{"code", "model_error"},
                      {"message", std::string("cannot render the summary request: ") + e.what()},
                      {"recoverable", false}});
                co_return finish({1, "failed", "", 0, 0, 0, 0});
            }
            std::optional<TurnOutput> summary = co_await model_turn(pending, last_eos);
            if (!summary) {
                co_return finish({1, "failed", "", 0, 0, 0, 0});
            }
            if (summary->finish == FinishReason::cancelled) {
                co_return finish(interrupted());
            }
            std::string text = summary->message.content;
            if (text.empty()) {
                text = summary->message.reasoning_content;
            }
            model_.reset();
            messages = json::array({messages[0],
                                    {{"role", "user"},
                                     {"content", options_.prompt +
                                                     "\n\n[The context was compacted. Your "
                                                     "summary of the work so far:]\n" +
                                                     text}}});
            pending = model_.encode(model::render_chat(messages, chat_));
            last_eos = true;
            base_tokens = static_cast<std::int64_t>(pending.size());
            guard = LoopGuard();
            emit("compaction", {{"before_tokens", context_now},
                                {"after_tokens", base_tokens},
                                {"old_session", session_id_}});
        }
    }
}

}  // namespace osprey::agent
