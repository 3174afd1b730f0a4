#include "agent/cli/run_command.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <limits>
#include <mutex>

#include "agent/asio.hpp"
#include "agent/cli/agent_setup.hpp"
#include "agent/runtime/agent.hpp"
#include "agent/runtime/kv_persistence.hpp"
#include "agent/runtime/resume.hpp"
#include "memory/file_history.hpp"
#include "memory/notes.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"

namespace osprey::agent::cli {
namespace {

using nlohmann::json;

int run_agent(const Args& args, Io& io) {
    // The task.
    std::string prompt;
    if (auto p = args.value("-p")) {
        if (!args.positionals().empty()) {
            throw UsageError("give the prompt either as an argument or with -p, not both");
        }
        prompt = *p;
    } else if (!args.positionals().empty()) {
        prompt = args.positionals().front();
    } else if (::isatty(STDIN_FILENO) == 0) {
        prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    const auto resume_ref = args.value("--resume");
    const auto fork_ref = args.value("--fork");
    if (resume_ref && fork_ref) {
        throw UsageError("give either --resume or --fork, not both");
    }
    const bool continuing = resume_ref || fork_ref;
    if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
        if (!continuing) {
            throw UsageError("no prompt: give it as an argument, with -p, or on stdin");
        }
        prompt.clear();
    }

    AgentOptions options = agent_options_from(args, PermissionMode::read_only);
    options.prompt = prompt;
    KvPersistence kv;
    kv.budget_bytes = kv_budget_from(args);
    const std::string output = args.value("--output").value_or("text");
    if (output != "text" && output != "json" && output != "stream-json") {
        throw UsageError("--output must be text, json or stream-json, got '" + output + "'");
    }

    // The model.
    std::unique_ptr<ModelClient> client;
    try {
        client = model_client_from(args);
    } catch (const ModelLoadError& e) {
        io.err << "osprey run: " << e.what() << "\n";
        return kExitUsage;
    }

    // The journal.
    const std::filesystem::path data_dir = data_dir_from(args);
    std::optional<memory::Store> store;
    try {
        store.emplace(memory::Store::open(data_dir));
    } catch (const std::exception& e) {
        io.err << "osprey run: cannot open the data folder " << data_dir << ": " << e.what()
               << "\n";
        return kExitFailure;
    }
    memory::Sessions sessions(store->db());

    // Resume or fork: the task's state from the journal.
    std::optional<ResumeState> resumed;
    bool drop_partial = false;
    std::optional<memory::SessionRecord> earlier;
    if (continuing) {
        try {
            const std::string ref =
                resume_ref ? *resume_ref : fork_ref->substr(0, fork_ref->find('@'));
            earlier = sessions.resolve(ref);
            if (resume_ref) {
                resumed = read_resume_state(store->db(), earlier->id);
            } else {
                std::int64_t step = std::numeric_limits<std::int64_t>::max();
                if (const auto at = fork_ref->find('@'); at != std::string::npos) {
                    const std::string text = fork_ref->substr(at + 1);
                    std::size_t used = 0;
                    try {
                        step = std::stoll(text, &used);
                    } catch (const std::exception&) {
                        used = 0;
                    }
                    if (used == 0 || used != text.size() || step < 0) {
                        throw UsageError("--fork: the step after '@' must be a number, got '" +
                                         text + "'");
                    }
                }
                resumed = step == std::numeric_limits<std::int64_t>::max()
                              ? read_resume_state(store->db(), earlier->id)
                              : read_fork_state(store->db(), earlier->id, step);
                if (resumed->unfinished) {
                    throw UsageError("--fork: session " + earlier->id +
                                     " stopped in the middle of a step; fork at a finished step "
                                     "(ID@STEP) or --resume it");
                }
            }
        } catch (const UsageError&) {
            throw;
        } catch (const std::exception& e) {
            throw UsageError(std::string(resume_ref ? "--resume: " : "--fork: ") + e.what());
        }
        if (earlier->model_fingerprint != client->fingerprint()) {
            throw UsageError("session " + earlier->id + " ran on " + earlier->model_fingerprint +
                             "; resume it with the same --model (got " + client->fingerprint() +
                             ")");
        }
        if (!args.has("--mode")) {
            options.mode = resumed->mode;
        }
        if (!args.has("--permission")) {
            options.permission = parse_permission_mode(resumed->permission);
        }
        if (resumed->not_started) {
            if (fork_ref) {
                throw UsageError("--fork: session " + earlier->id + " has no step yet");
            }
            if (prompt.empty()) {
                options.prompt = resumed->prompt;  // nothing ran yet: the task from its start
            }
        }
        drop_partial = prompt.empty() && resumed->partial_turn;
        if (drop_partial) {
            drop_partial_turn(*resumed);  // a cut-off turn is generated again
        }
        if (fork_ref && resumed->answered && prompt.empty()) {
            throw UsageError(
                "--fork: that step ends with the model's answer; give a prompt for "
                "the fork to go on with");
        }
    }
    if (earlier && !args.has("--cwd")) {
        std::error_code ec;
        options.workspace = std::filesystem::canonical(earlier->workspace, ec);
        if (ec) {
            throw UsageError("the workspace of session " + earlier->id + " (" + earlier->workspace +
                             ") is gone; give --cwd");
        }
    }

    std::string session_id;
    if (resume_ref) {
        session_id = earlier->id;
        sessions.set_status(session_id, memory::SessionStatus::active);
    } else {
        memory::SessionInit init;
        init.workspace = options.workspace.string();
        init.title = (prompt.empty() && earlier ? earlier->title : prompt).substr(0, 80);
        init.model_fingerprint = client->fingerprint();
        init.mode = options.mode;
        if (fork_ref) {
            init.parent_id = earlier->id;
            init.fork_step = resumed->steps;
        }
        session_id = sessions.create(init);
    }
    options.keep_old_session = [&store, &session_id](std::int64_t step) {
        return keep_session_copy(*store, session_id, step);
    };
    memory::Journal journal(store->db(), session_id);
    memory::ToolLog tool_log(store->db());
    if (!resume_ref) {
        // The task itself, first of all: a process killed before its prompt is rendered can
        // still be resumed.
        journal.append("agent.task",
                       json{{"type", "agent.task"},
                            {"prompt", prompt},
                            {"mode", options.mode},
                            {"permission", std::string(to_string(options.permission))}}
                           .dump(),
                       0, memory::Durability::commit_now);
    }
    if (resume_ref && drop_partial) {
        journal.append("agent.drop_partial", R"({"type":"agent.drop_partial"})", resumed->steps,
                       memory::Durability::commit_now);
    }
    if (fork_ref) {
        // The fork's own starting point, so it can be resumed by itself.
        journal.append("agent.start", fork_start_record(*resumed).dump(), resumed->steps,
                       memory::Durability::commit_now);
    }
    attach_memory(options, *store, *client, kv, io.err);
    json restore_info = json::object();
    if (resume_ref) {
        options.first_seq = resumed->streamed_events;
    }
    if (resumed) {
        try {
            const RestoreReport report =
                restore_context(*client, resumed->context, resumed->pending, kv);
            for (const auto& why : report.discarded) {
                io.err << "osprey run: discarded a KV snapshot: " << why << "\n";
            }
            restore_info = {{"restored_tokens", report.restored_tokens},
                            {"replayed_tokens", report.replayed_tokens}};
        } catch (const std::exception& e) {
            io.err << "osprey run: cannot rebuild the model state of session " << earlier->id
                   << ": " << e.what() << "\n";
            return kExitFailure;
        }
    }

    tools::Registry registry = tools::make_default_registry();
    asio::io_context io_context;
    bool streamed_text = false;
    auto sink = [&](const json& ev) {
        const std::string type = ev.at("type").get<std::string>();
        if (output == "stream-json") {
            io.out << ev.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            io.out.flush();
        } else if (output == "text") {
            if (type == "text.delta") {
                io.out << ev.at("text").get<std::string>();
                io.out.flush();
                streamed_text = true;
            } else if (type == "tool.call") {
                io.err << "[" << ev.at("name").get<std::string>() << "] "
                       << ev.at("arguments").dump() << "\n";
            } else if (type == "error" && !ev.at("recoverable").get<bool>()) {
                io.err << "osprey run: " << ev.at("message").get<std::string>() << "\n";
            }
        } else if (type == "session.completed") {
            io.out << ev.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        }
    };

    std::optional<Agent> agent;
    try {
        agent.emplace(io_context, *client, registry, options, session_id, &journal, &tool_log,
                      sink);
    } catch (const std::exception& e) {
        io.err << "osprey run: " << e.what() << "\n";
        return kExitFailure;
    }
    asio::signal_set signals(io_context, SIGINT, SIGTERM);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& err, int sig) {
            if (err) {
                return;
            }
            agent->interrupt(128 + sig);
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);
    AgentOutcome outcome;
    if (resumed && resumed->not_started) {
        resumed.reset();  // nothing happened yet: the task runs from its start
    }
    auto task =
        resumed ? agent->resume(std::move(*resumed), earlier->id, restore_info) : agent->run();
    asio::co_spawn(io_context, std::move(task), [&](std::exception_ptr error, AgentOutcome result) {
        signals.cancel();
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                io.err << "osprey run: " << e.what() << "\n";
            }
            outcome.exit_code = kExitFailure;
            outcome.exit_reason = "failed";
            return;
        }
        outcome = std::move(result);
    });
    io_context.run();
    if (output == "text" && streamed_text) {
        io.out << "\n";
    }
    io.out.flush();
    sessions.set_status(session_id, outcome.exit_reason == "done" ? memory::SessionStatus::completed
                                    : outcome.exit_reason == "interrupted"
                                        ? memory::SessionStatus::interrupted
                                        : memory::SessionStatus::failed);
    return outcome.exit_code;
}

}  // namespace

Command run_command() {
    Command cmd;
    cmd.name = "run";
    cmd.summary = "run one agent task headless (text, json or stream-json output)";
    cmd.description =
        "Runs the agent on one task: the prompt comes from PROMPT, -p PROMPT or stdin. The whole\n"
        "task lives in one KV session; every event is journaled under --data-dir before it is\n"
        "acted upon. --model scripted:FILE plays back a JSON array of assistant turns (a test\n"
        "double). Exit codes: 0 done, 1 task failed, 2 bad usage or input, 3 budget or loop\n"
        "limit, 130 interrupted (SIGINT), 143 terminated (SIGTERM).";
    cmd.positional_usage = "[PROMPT]";
    cmd.max_positionals = 1;
    cmd.options = {
        {"-p", "PROMPT", "the task (instead of the PROMPT argument or stdin)"},
        {"--output", "FORMAT", "text (default), json (the final object) or stream-json (events)"},
        {"--resume", "ID|last",
         "continue a session from its journal and KV snapshots (PROMPT: a follow-up message)"},
        {"--fork", "ID[@STEP]",
         "start a new session from another's state after STEP (default: its end) and go on "
         "with PROMPT"},
        {"--kv-disk-budget", "SIZE", "disk space for KV snapshots, LRU-evicted (default 20G)"},
    };
    for (auto& o : agent_cli_options("read-only")) {
        cmd.options.push_back(std::move(o));
    }
    cmd.run = run_agent;
    return cmd;
}

}  // namespace osprey::agent::cli
