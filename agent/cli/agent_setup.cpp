#include "agent/cli/agent_setup.hpp"

#include <cstdlib>
#include <mutex>

#include "memory/file_history.hpp"
#include "memory/journal.hpp"
#include "memory/notes.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "model/weights.hpp"

namespace osprey::agent::cli {
namespace {

std::chrono::milliseconds parse_duration(const std::string& text) {
    std::size_t used = 0;
    long long n = 0;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    const std::string unit = text.substr(used);
    if (used == 0 || n <= 0 || !(unit.empty() || unit == "s" || unit == "ms" || unit == "m")) {
        throw UsageError("--timeout needs a positive duration such as 90, 90s, 500ms or 5m, got '" +
                         text + "'");
    }
    if (unit == "ms") {
        return std::chrono::milliseconds(n);
    }
    return std::chrono::milliseconds(n * (unit == "m" ? 60000 : 1000));
}

std::int64_t positive(const Args& args, const char* name) {
    const std::string v = *args.value(name);
    try {
        std::size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used == v.size() && n > 0) {
            return n;
        }
    } catch (const std::exception&) {
    }
    throw UsageError(std::string(name) + " needs a positive integer, got '" + v + "'");
}

std::filesystem::path default_tokenizer() {
    if (const char* env = std::getenv("OSPREY_TOKENIZER"); env != nullptr && *env != '\0') {
        return env;
    }
    return OSPREY_DEFAULT_TOKENIZER;
}

}  // namespace

std::vector<Option> agent_cli_options(std::string_view default_permission) {
    return {
        {"--model", "DIR|scripted:FILE", "a model folder, or the scripted test backend"},
        {"--tokenizer", "FILE", "tokenizer.json (default: the model's, else the test tokenizer)"},
        {"--mode", "MODE", "chat, think (default) or max"},
        {"--cwd", "DIR", "the workspace root (default: .)"},
        {"--max-steps", "N", "stop after N model turns (exit 3)"},
        {"--max-tokens", "N", "stop after N generated tokens (exit 3)"},
        {"--timeout", "DURATION", "stop after this wall time: 90, 90s, 500ms, 5m (exit 3)"},
        {"--context-limit", "N",
         "compact (summarise, restart the session) when the context nears N tokens"},
        {"--permission", "MODE",
         std::string(default_permission == "ask" ? "read-only, ask (default), auto or full"
                                                 : "read-only (default), ask, auto or full")},
        {"--allow", "RULE", "allow TOOL or TOOL(PATTERN), e.g. 'shell(make *)'", true},
        {"--deny", "RULE", "deny TOOL or TOOL(PATTERN)", true},
        {"--data-dir", "DIR",
         "where sessions and journals are kept (default ~/.local/share/osprey)"},
        {"--seed", "N", "sampling seed of the local backend"},
        {"--token-delay", "MS", "pause before each generated token (demos, interruption tests)"},
    };
}

AgentOptions agent_options_from(const Args& args, PermissionMode default_permission) {
    AgentOptions options;
    options.mode = args.value("--mode").value_or("think");
    try {
        (void)chat_options_for(options.mode);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--mode: ") + e.what());
    }
    std::error_code ec;
    const std::filesystem::path cwd = args.value("--cwd").value_or(".");
    options.workspace = std::filesystem::canonical(cwd, ec);
    if (ec || !std::filesystem::is_directory(options.workspace)) {
        throw UsageError("--cwd: '" + cwd.string() + "' is not a folder");
    }
    try {
        options.permission = args.has("--permission")
                                 ? parse_permission_mode(*args.value("--permission"))
                                 : default_permission;
        for (const auto& r : args.values("--allow")) {
            options.rules.push_back(parse_permission_rule(r, true));
        }
        for (const auto& r : args.values("--deny")) {
            options.rules.push_back(parse_permission_rule(r, false));
        }
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (args.has("--max-steps")) {
        options.budgets.max_steps = positive(args, "--max-steps");
    }
    if (args.has("--max-tokens")) {
        options.budgets.max_tokens = positive(args, "--max-tokens");
    }
    if (args.has("--context-limit")) {
        options.context_limit = positive(args, "--context-limit");
    }
    if (auto t = args.value("--timeout")) {
        options.budgets.timeout = parse_duration(*t);
    }
    return options;
}

std::unique_ptr<ModelClient> model_client_from(const Args& args, bool model_from_env) {
    std::optional<std::string> spec = args.value("--model");
    if (!spec && model_from_env) {
        if (const char* env = std::getenv("OSPREY_MODEL"); env != nullptr && *env != '\0') {
            spec = env;
        }
    }
    if (!spec) {
        throw UsageError(std::string("--model is required: a model folder, or scripted:FILE for "
                                     "the test backend") +
                         (model_from_env ? " (or set OSPREY_MODEL)" : ""));
    }
    std::optional<std::int64_t> seed;
    if (args.has("--seed")) {
        seed = positive(args, "--seed");
    }
    std::optional<std::int64_t> delay;
    if (args.has("--token-delay")) {
        delay = positive(args, "--token-delay");
    }
    std::filesystem::path tokenizer_path = args.value("--tokenizer").value_or("");
    const bool scripted = spec->rfind("scripted:", 0) == 0;
    if (tokenizer_path.empty()) {
        tokenizer_path = (!scripted && std::filesystem::exists(*spec + "/tokenizer.json"))
                             ? std::filesystem::path(*spec) / "tokenizer.json"
                             : default_tokenizer();
    }
    std::shared_ptr<const model::Tokenizer> tokenizer;
    try {
        tokenizer =
            std::make_shared<const model::Tokenizer>(model::Tokenizer::load(tokenizer_path));
    } catch (const std::exception& e) {
        throw ModelLoadError(std::string("cannot load the tokenizer: ") + e.what());
    }
    std::unique_ptr<ModelClient> client;
    try {
        if (scripted) {
            const std::string file = spec->substr(9);
            client = std::make_unique<ModelClient>(tokenizer, load_script(file), *spec);
        } else {
            auto weights = model::load_model(*spec);
            std::shared_ptr<model::Backend> backend = model::make_cpu_backend(weights);
            model::SamplingParams sampling;
            sampling.temperature = 1.0F;
            sampling.top_p = 1.0F;
            if (seed) {
                sampling.seed = static_cast<std::uint64_t>(*seed);
            }
            client = std::make_unique<ModelClient>(tokenizer, backend, model::SessionOptions{},
                                                   sampling, "local:" + *spec);
        }
    } catch (const std::exception& e) {
        throw ModelLoadError("cannot load the model " + *spec + ": " + e.what());
    }
    if (delay) {
        client->set_token_delay(std::chrono::milliseconds(*delay));
    }
    return client;
}

std::string keep_session_copy(memory::Store& store, const std::string& session_id,
                              std::int64_t step) {
    memory::Sessions sessions(store.db());
    const auto record = sessions.find(session_id);
    if (!record) {
        throw std::runtime_error("no session " + session_id);
    }
    memory::SessionInit init;
    init.workspace = record->workspace;
    init.title = "before compaction at step " + std::to_string(step) + ": " + record->title;
    init.model_fingerprint = record->model_fingerprint;
    init.mode = record->mode;
    init.parent_id = session_id;
    init.fork_step = step;
    const std::string copy_id = sessions.create(init);
    {
        memory::Journal copy(store.db(), copy_id);
        for (const auto& ev : memory::read_journal(store.db(), session_id)) {
            nlohmann::json payload = nlohmann::json::parse(ev.payload);
            if (payload.is_object() && payload.contains("session")) {
                payload["session"] = copy_id;
            }
            copy.append(ev.type,
                        payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        ev.step, memory::Durability::batched);
        }
        copy.flush();
    }
    sessions.set_status(copy_id, memory::SessionStatus::completed);
    return copy_id;
}

std::filesystem::path data_dir_from(const Args& args) {
    if (auto d = args.value("--data-dir")) {
        return *d;
    }
    try {
        return memory::default_data_dir();
    } catch (const std::exception& e) {
        throw UsageError(std::string("no data folder: ") + e.what() + " (use --data-dir)");
    }
}

void attach_memory(AgentOptions& options, memory::Store& store, ModelClient& client,
                   KvPersistence& kv, std::ostream& warn) {
    for (const auto& note : memory::ProjectNotes(store.db()).list(options.workspace.string())) {
        options.project_notes.push_back(note.text);
    }
    options.data_dir = store.data_dir();
    // File history: its own connection, as tools run on their own threads while the loop
    // journals on the main one.
    auto history_db = std::make_shared<memory::Database>(memory::Database::open(store.db().path()));
    auto history_lock = std::make_shared<std::mutex>();
    options.before_file_change = [history_db, history_lock](const std::string& session_id,
                                                            std::int64_t step,
                                                            const std::filesystem::path& path) {
        std::lock_guard lock(*history_lock);
        memory::FileHistory(*history_db).record_before_change(session_id, step, path);
    };
    kv.db = &store.db();
    kv.folder = store.kv_dir();
    if (!client.has_engine()) {
        return;
    }
    auto saved_at = std::make_shared<std::int64_t>(0);
    // The file is written on the compute thread; its catalogue row is added on the event loop,
    // which owns the store's connection.
    options.checkpoint = [&client, &kv, &warn, saved_at](const std::string& session_id,
                                                         bool turn_end) -> std::function<void()> {
        const std::int64_t now = client.context_tokens();
        if (!turn_end && now - *saved_at < kSnapshotEveryTokens) {
            return {};
        }
        try {
            auto rec = write_snapshot_file(client, session_id, kv);
            *saved_at = now;
            if (!rec) {
                return {};
            }
            return [rec = *rec, &kv, &warn] {
                try {
                    record_snapshot(rec, kv);
                } catch (const std::exception& e) {
                    warn << "osprey: warning: KV snapshot " << rec.file.string()
                         << " not catalogued: " << e.what() << "\n";
                }
            };
        } catch (const std::exception& e) {
            warn << "osprey: warning: no KV snapshot at " << now << " tokens: " << e.what() << "\n";
            return {};
        }
    };
}

std::int64_t kv_budget_from(const Args& args) {
    if (auto b = args.value("--kv-disk-budget")) {
        try {
            return parse_byte_size(*b);
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--kv-disk-budget: ") + e.what());
        }
    }
    return KvPersistence{}.budget_bytes;
}

}  // namespace osprey::agent::cli
