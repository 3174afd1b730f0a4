#pragma once
// The terminal's slash commands: /help /think /nothink /max /compact /usage /sessions /resume
// /fork /rewind /quit. /resume, /fork and /rewind call SessionCommands hooks, which the agent
// runtime fills in; an empty hook answers that the command is not available yet.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::agent::interactive {

class Conversation;

// Hooks for the commands that replace or rewind the session. Each gets the conversation and the
// text after the command, returns what to tell the user, and throws std::exception with a message
// the user can act on when it cannot do it. Conversation::replace_session() and make_agent()
// let a hook swap in another session.
struct SessionCommands {
    std::function<std::string(Conversation&, std::string_view args)> resume;
    std::function<std::string(Conversation&, std::string_view args)> fork;
    std::function<std::string(Conversation&, std::string_view args)> rewind;
};

struct SlashCommand {
    std::string name;   // "/think"
    std::string usage;  // "[show|hide]"
    std::string help;
};

// The table, in the order /help shows it.
const std::vector<SlashCommand>& slash_commands();

enum class SlashResult { handled, quit };

// Runs `line` (it starts with '/'); unknown commands are reported with the nearest name.
SlashResult run_slash_command(Conversation& conversation, std::string_view line,
                              const SessionCommands& hooks);

}  // namespace osprey::agent::interactive
