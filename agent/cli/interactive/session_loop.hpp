#pragma once
// `osprey` in a terminal (and `osprey interactive`): the interactive agent. Reads prompts with
// line editing and history, sends each to the agent on one KV session, runs slash commands,
// and ends on /quit, Ctrl-D, or Ctrl-C twice at an empty prompt.

#include "agent/cli/dispatcher.hpp"
#include "agent/cli/interactive/slash_commands.hpp"

namespace osprey::agent::interactive {

// The `interactive` command; `hooks` back /resume, /fork and /rewind.
cli::Command interactive_command(SessionCommands hooks = {});

// True when standard input and output are both terminals.
bool on_terminal();

}  // namespace osprey::agent::interactive
