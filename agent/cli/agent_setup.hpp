#pragma once
// What `osprey run` and the interactive terminal share: the agent's options, the model client and
// the data folder, read from the command line with the same option names and errors.

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "agent/cli/dispatcher.hpp"
#include "agent/permissions.hpp"
#include "agent/runtime/agent.hpp"
#include "agent/runtime/kv_persistence.hpp"
#include "agent/runtime/model_client.hpp"
#include "memory/store.hpp"

namespace osprey::agent::cli {

// The model or tokenizer could not be loaded: an input error (exit 2), message without a prefix.
class ModelLoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The options both front ends take (--model … --token-delay), help texts included.
std::vector<Option> agent_cli_options(std::string_view default_permission);

// --mode, --cwd, --permission (default `default_permission`), --allow, --deny, budgets,
// --context-limit. The prompt is left empty. Throws UsageError.
AgentOptions agent_options_from(const Args& args, PermissionMode default_permission);

// --model DIR|scripted:FILE (else $OSPREY_MODEL when `model_from_env`), --tokenizer, --seed,
// --token-delay. Throws UsageError (no model given) or ModelLoadError.
std::unique_ptr<ModelClient> model_client_from(const Args& args, bool model_from_env = false);

// The session as it is now, kept before a compaction: a new session (parent `session_id`, fork
// step `step`) holding a copy of its journal. Returns the new id.
std::string keep_session_copy(memory::Store& store, const std::string& session_id,
                              std::int64_t step);

// What the memory layer adds to a task: the workspace's project notes in the system prompt, the
// data folder for the memory tool, the file history written before every tool's file change,
// and (local engine) KV snapshots at turn ends and after large prefills into `kv`. `warn` gets
// the message of a snapshot that could not be written (the task goes on). `kv` and `client`
// must outlive the agent.
void attach_memory(AgentOptions& options, memory::Store& store, ModelClient& client,
                   KvPersistence& kv, std::ostream& warn);

// --kv-disk-budget SIZE (default 20G). Throws UsageError.
std::int64_t kv_budget_from(const Args& args);

// --data-dir, else the default data folder. Throws UsageError when there is none.
std::filesystem::path data_dir_from(const Args& args);

}  // namespace osprey::agent::cli
