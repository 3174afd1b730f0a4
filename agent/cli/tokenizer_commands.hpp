#pragma once
// `osprey tokenize` and `osprey detokenize` (contracts, see docs/cli.md): text <-> token ids with a
// Hugging Face tokenizer.json, exactly as the engine tokenizes.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command tokenize_command();
Command detokenize_command();

}  // namespace osprey::agent::cli
