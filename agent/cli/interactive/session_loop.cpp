#include "agent/cli/interactive/session_loop.hpp"

#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "agent/build_info.hpp"
#include "agent/cli/agent_setup.hpp"
#include "agent/cli/interactive/conversation.hpp"
#include "agent/cli/interactive/line_editor.hpp"
#include "memory/store.hpp"

namespace osprey::agent::interactive {
namespace {

using cli::Args;
using cli::Io;

bool color_wanted() {
    const char* no_color = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    return (no_color == nullptr || *no_color == '\0') &&
           (term == nullptr || std::string_view(term) != "dumb");
}

int run_interactive(const Args& args, Io& io, const SessionCommands& hooks) {
    if (!on_terminal()) {
        throw cli::UsageError(
            "the interactive agent needs a terminal on stdin and stdout; use 'osprey run' for "
            "a headless task");
    }
    AgentOptions options = cli::agent_options_from(args, PermissionMode::ask);
    std::unique_ptr<ModelClient> client;
    try {
        client = cli::model_client_from(args, true);
    } catch (const cli::ModelLoadError& e) {
        io.err << "osprey: " << e.what() << "\n";
        return cli::kExitUsage;
    }
    const std::filesystem::path data_dir = cli::data_dir_from(args);
    std::optional<memory::Store> store;
    try {
        store.emplace(memory::Store::open(data_dir));
    } catch (const std::exception& e) {
        io.err << "osprey: cannot open the data folder " << data_dir << ": " << e.what() << "\n";
        return cli::kExitFailure;
    }
    std::setlocale(LC_CTYPE, "");  // libedit edits UTF-8 as characters
    const bool color = color_wanted();
    LineEditor editor(data_dir / "history");
    tools::Registry registry = tools::make_default_registry();
    KvPersistence kv;
    kv.budget_bytes = cli::kv_budget_from(args);
    cli::attach_memory(options, *store, *client, kv, std::cerr);
    Conversation conversation(*client, registry, *store, options, editor, std::cout, color);
    const Style& s = conversation.renderer().style();
    std::cout << s.bold("osprey") << " " << s.dim(build_info().version) << " · "
              << client->fingerprint() << " · mode " << options.mode << " · permission "
              << to_string(options.permission) << "\n"
              << s.dim("workspace " + options.workspace.string() + " · session " +
                       conversation.session_id() + " · /help for commands")
              << "\n";

    bool interrupted_once = false;
    while (!conversation.terminated()) {
        std::string message;
        bool quit = false;
        // A line ending in a backslash continues on the next line.
        for (bool first = true;; first = false) {
            conversation.poll();
            // Plain prompts: libedit draws them itself (no escape sequences, ASCII only).
            LineInput in;
            if (conversation.take_pending_interrupt()) {
                in.kind = LineInput::Kind::interrupt;
            } else {
                in = editor.read(first ? "> " : ". ", true);
                conversation.poll();
            }
            if (conversation.terminated()) {
                quit = true;
                break;
            }
            if (in.kind == LineInput::Kind::eof) {
                std::cout << "\n";
                quit = first;
                break;
            }
            if (in.kind == LineInput::Kind::interrupt) {
                std::cout << "^C\n";
                const bool empty = message.empty() && in.text.empty();
                if (empty && interrupted_once) {
                    quit = true;
                } else if (empty) {
                    interrupted_once = true;
                    std::cout << s.dim("(Ctrl-C again or Ctrl-D to quit)") << "\n";
                }
                message.clear();
                break;
            }
            interrupted_once = false;
            if (!in.text.empty() && in.text.back() == '\\') {
                message += in.text.substr(0, in.text.size() - 1) + "\n";
                continue;
            }
            message += in.text;
            break;
        }
        if (quit) {
            break;
        }
        if (message.find_first_not_of(" \t\n") == std::string::npos) {
            continue;
        }
        if (message.front() == '/') {
            if (run_slash_command(conversation, message, hooks) == SlashResult::quit) {
                break;
            }
            continue;
        }
        conversation.send(message);
    }
    conversation.close();
    std::cout.flush();
    return conversation.terminated() ? 143 : cli::kExitOk;
}

}  // namespace

bool on_terminal() {
    return ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
}

cli::Command interactive_command(SessionCommands hooks) {
    cli::Command cmd;
    cmd.name = "interactive";
    cmd.summary = "the interactive agent in this terminal (also plain 'osprey' on a terminal)";
    cmd.description =
        "Talks with the agent in this terminal: every message continues the same KV session.\n"
        "Line editing and history (kept in the data folder), reasoning shown dimmed and\n"
        "collapsed to one line (/think show streams it), tool calls as they are generated,\n"
        "diffs of edits, usage after each answer. Calls that write or run commands ask first\n"
        "(--permission ask, the default here). Ctrl-C stops the model or a tool and keeps the\n"
        "session; Ctrl-C twice at an empty prompt, Ctrl-D or /quit ends it. /help lists the\n"
        "slash commands. The model is --model, else $OSPREY_MODEL.";
    cmd.options = cli::agent_cli_options("ask");
    cmd.options.push_back(
        {"--kv-disk-budget", "SIZE", "disk space for KV snapshots, LRU-evicted (default 20G)"});
    cmd.run = [hooks = std::move(hooks)](const Args& args, Io& io) {
        return run_interactive(args, io, hooks);
    };
    return cmd;
}

}  // namespace osprey::agent::interactive
