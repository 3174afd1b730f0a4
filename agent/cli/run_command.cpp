#include "agent/cli/run_command.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "agent/asio.hpp"
#include "agent/cli/agent_setup.hpp"
#include "agent/runtime/agent.hpp"
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
    if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw UsageError("no prompt: give it as an argument, with -p, or on stdin");
    }

    AgentOptions options = agent_options_from(args, PermissionMode::read_only);
    options.prompt = prompt;
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
    memory::SessionInit init;
    init.workspace = options.workspace.string();
    init.title = prompt.substr(0, 80);
    init.model_fingerprint = client->fingerprint();
    init.mode = options.mode;
    const std::string session_id = sessions.create(init);
    options.keep_old_session = [&store, &session_id](std::int64_t step) {
        return keep_session_copy(*store, session_id, step);
    };
    memory::Journal journal(store->db(), session_id);
    memory::ToolLog tool_log(store->db());

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
    asio::co_spawn(io_context, agent->run(), [&](std::exception_ptr error, AgentOutcome result) {
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
    };
    for (auto& o : agent_cli_options("read-only")) {
        cmd.options.push_back(std::move(o));
    }
    cmd.run = run_agent;
    return cmd;
}

}  // namespace osprey::agent::cli
