#pragma once
// `osprey chat render` and `osprey chat parse` (contracts, see docs/cli.md): the DeepSeek-V4 prompt
// of a conversation, and the assistant message of a completion.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command chat_command();

}  // namespace osprey::agent::cli
