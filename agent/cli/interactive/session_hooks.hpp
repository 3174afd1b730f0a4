#pragma once
// The terminal's /resume, /fork and /rewind (SessionCommands), over the agent runtime's resume
// (agent/runtime/resume.hpp), KV snapshots (kv_persistence.hpp) and rewind (rewind.hpp):
//   /resume [ID|last]   continue another session of this workspace (default: the most recent
//                       other one) from its journal and KV snapshots;
//   /fork [ID][@STEP]   a new session from this one's (or ID's) state at the end of STEP;
//   /rewind [STEP]      back to the end of STEP (default: undo the last step): lists the files it
//                       will restore, asks, restores them and truncates the live KV session.

#include "agent/cli/interactive/slash_commands.hpp"

namespace osprey::agent::interactive {

SessionCommands session_commands();

}  // namespace osprey::agent::interactive
