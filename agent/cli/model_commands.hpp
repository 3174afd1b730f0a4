#pragma once
// `osprey model ...`: inspect a V4 checkpoint, compute logits (the golden-test contract), generate,
// write random-weight checkpoints and benchmark the engine.

#include "agent/cli/dispatcher.hpp"

namespace osprey::agent::cli {

Command model_command();

}  // namespace osprey::agent::cli
