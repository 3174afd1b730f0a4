#include "agent/cli/run_command.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <limits>
#include <mutex>

#include "agent/asio.hpp"
#include "agent/runtime/agent.hpp"
#include "agent/runtime/kv_persistence.hpp"
#include "agent/runtime/resume.hpp"
#include "memory/file_history.hpp"
#include "memory/notes.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "model/errors.hpp"
#include "model/weights.hpp"

namespace osprey::agent::cli {
namespace {

using nlohmann::json;

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
    const auto resume_ref = args.value("--resume");
    const auto fork_ref = args.value("--fork");
    if (resume_ref && fork_ref) {
        throw UsageError("give either --resume or --fork, not both");
    }
    const bool continuing = resume_ref || fork_ref;
    if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
        if (!continuing) {
            throw UsageError("no prompt: give it as an argument, with -p, or on stdin");
        }
        prompt.clear();
    }

    AgentOptions options;
    options.prompt = prompt;
    options.mode = args.value("--mode").value_or("think");
    try {
        (void)chat_options_for(options.mode);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--mode: ") + e.what());
    }
    KvPersistence kv;
    if (auto b = args.value("--kv-disk-budget")) {
        try {
            kv.budget_bytes = parse_byte_size(*b);
        } catch (const std::invalid_argument& e) {
            throw UsageError(std::string("--kv-disk-budget: ") + e.what());
        }
    }
    const std::string output = args.value("--output").value_or("text");
    if (output != "text" && output != "json" && output != "stream-json") {
        throw UsageError("--output must be text, json or stream-json, got '" + output + "'");
    }
    try {
        options.permission =
            parse_permission_mode(args.value("--permission").value_or("read-only"));
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

    // The model.
    const auto spec = args.value("--model");
    if (!spec) {
        throw UsageError(
            "--model is required: a model folder, or scripted:FILE for the test "
            "backend");
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
        io.err << "osprey run: cannot load the tokenizer: " << e.what() << "\n";
        return kExitUsage;
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
            if (args.has("--seed")) {
                sampling.seed = static_cast<std::uint64_t>(positive(args, "--seed"));
            }
            client = std::make_unique<ModelClient>(tokenizer, backend, model::SessionOptions{},
                                                   sampling, "local:" + *spec);
        }
    } catch (const std::exception& e) {
        io.err << "osprey run: cannot load the model " << *spec << ": " << e.what() << "\n";
        return kExitUsage;
    }

    if (args.has("--token-delay")) {
        client->set_token_delay(std::chrono::milliseconds(positive(args, "--token-delay")));
    }

    // The journal.
    std::filesystem::path data_dir;
    if (auto d = args.value("--data-dir")) {
        data_dir = *d;
    } else {
        try {
            data_dir = memory::default_data_dir();
        } catch (const std::exception& e) {
            throw UsageError(std::string("no data folder: ") + e.what() + " (use --data-dir)");
        }
    }
    std::optional<memory::Store> store;
    try {
        store.emplace(memory::Store::open(data_dir));
    } catch (const std::exception& e) {
        io.err << "osprey run: cannot open the data folder " << data_dir << ": " << e.what()
               << "\n";
        return kExitFailure;
    }
    memory::Sessions sessions(store->db());

    // Resume or fork: the task's state from the journal.
    std::optional<ResumeState> resumed;
    std::optional<memory::SessionRecord> earlier;
    if (continuing) {
        try {
            const std::string ref =
                resume_ref ? *resume_ref : fork_ref->substr(0, fork_ref->find('@'));
            earlier = sessions.resolve(ref);
            if (resume_ref) {
                resumed = read_resume_state(store->db(), earlier->id);
            } else {
                std::int64_t step = std::numeric_limits<std::int64_t>::max();
                if (const auto at = fork_ref->find('@'); at != std::string::npos) {
                    const std::string text = fork_ref->substr(at + 1);
                    std::size_t used = 0;
                    try {
                        step = std::stoll(text, &used);
                    } catch (const std::exception&) {
                        used = 0;
                    }
                    if (used == 0 || used != text.size() || step < 0) {
                        throw UsageError("--fork: the step after '@' must be a number, got '" +
                                         text + "'");
                    }
                }
                resumed = step == std::numeric_limits<std::int64_t>::max()
                              ? read_resume_state(store->db(), earlier->id)
                              : read_fork_state(store->db(), earlier->id, step);
                if (resumed->unfinished) {
                    throw UsageError("--fork: session " + earlier->id +
                                     " stopped in the middle of a step; fork at a finished step "
                                     "(ID@STEP) or --resume it");
                }
            }
        } catch (const UsageError&) {
            throw;
        } catch (const std::exception& e) {
            throw UsageError(std::string(resume_ref ? "--resume: " : "--fork: ") + e.what());
        }
        if (earlier->model_fingerprint != client->fingerprint()) {
            throw UsageError("session " + earlier->id + " ran on " + earlier->model_fingerprint +
                             "; resume it with the same --model (got " + client->fingerprint() +
                             ")");
        }
        if (!args.has("--mode")) {
            options.mode = resumed->mode;
        }
        if (!args.has("--permission")) {
            options.permission = parse_permission_mode(resumed->permission);
        }
        if (fork_ref && resumed->answered && prompt.empty()) {
            throw UsageError(
                "--fork: that step ends with the model's answer; give a prompt for "
                "the fork to go on with");
        }
    }
    std::error_code ec;
    const std::filesystem::path cwd =
        args.value("--cwd").value_or(earlier ? earlier->workspace : std::string("."));
    options.workspace = std::filesystem::canonical(cwd, ec);
    if (ec || !std::filesystem::is_directory(options.workspace)) {
        throw UsageError("--cwd: '" + cwd.string() + "' is not a folder");
    }

    std::string session_id;
    if (resume_ref) {
        session_id = earlier->id;
        sessions.set_status(session_id, memory::SessionStatus::active);
    } else {
        memory::SessionInit init;
        init.workspace = options.workspace.string();
        init.title = (prompt.empty() && earlier ? earlier->title : prompt).substr(0, 80);
        init.model_fingerprint = client->fingerprint();
        init.mode = options.mode;
        if (fork_ref) {
            init.parent_id = earlier->id;
            init.fork_step = resumed->steps;
        }
        session_id = sessions.create(init);
    }
    memory::Journal journal(store->db(), session_id);
    memory::ToolLog tool_log(store->db());
    if (fork_ref) {
        // The fork's own starting point, so it can be resumed by itself.
        journal.append("agent.start", fork_start_record(*resumed).dump(), resumed->steps,
                       memory::Durability::commit_now);
    }
    for (const auto& note : memory::ProjectNotes(store->db()).list(options.workspace.string())) {
        options.project_notes.push_back(note.text);
    }
    // File history (what /rewind restores): its own connection, as tools run on their own
    // threads while the loop journals on this one.
    auto history_db =
        std::make_shared<memory::Database>(memory::Database::open(store->db().path()));
    auto history_lock = std::make_shared<std::mutex>();
    options.before_file_change = [history_db, history_lock, session_id](
                                     std::int64_t step, const std::filesystem::path& path) {
        std::lock_guard lock(*history_lock);
        memory::FileHistory(*history_db).record_before_change(session_id, step, path);
    };
    options.data_dir = data_dir;
    kv.db = &store->db();
    kv.folder = data_dir / "kv";
    if (client->has_engine()) {
        auto saved_at = std::make_shared<std::int64_t>(0);
        options.checkpoint = [&client, &kv, session_id, &io, saved_at](bool turn_end) {
            const std::int64_t now = client->context_tokens();
            if (!turn_end && now - *saved_at < kSnapshotEveryTokens) {
                return;
            }
            try {
                save_snapshot(*client, session_id, kv);
                *saved_at = now;
            } catch (const std::exception& e) {
                io.err << "osprey run: warning: no KV snapshot at " << now
                       << " tokens: " << e.what() << "\n";
            }
        };
    }
    json restore_info = json::object();
    if (resume_ref) {
        options.first_seq = resumed->streamed_events;
    }
    if (resumed) {
        try {
            const RestoreReport report =
                restore_context(*client, resumed->context, resumed->pending, kv);
            for (const auto& why : report.discarded) {
                io.err << "osprey run: discarded a KV snapshot: " << why << "\n";
            }
            restore_info = {{"restored_tokens", report.restored_tokens},
                            {"replayed_tokens", report.replayed_tokens}};
        } catch (const std::exception& e) {
            io.err << "osprey run: cannot rebuild the model state of session " << earlier->id
                   << ": " << e.what() << "\n";
            return kExitFailure;
        }
    }

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
    auto task =
        resumed ? agent->resume(std::move(*resumed), earlier->id, restore_info) : agent->run();
    asio::co_spawn(io_context, std::move(task), [&](std::exception_ptr error, AgentOutcome result) {
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
        {"--model", "DIR|scripted:FILE", "a model folder, or the scripted test backend"},
        {"--tokenizer", "FILE", "tokenizer.json (default: the model's, else the test tokenizer)"},
        {"--output", "FORMAT", "text (default), json (the final object) or stream-json (events)"},
        {"--mode", "MODE", "chat, think (default) or max"},
        {"--cwd", "DIR", "the workspace root (default: .)"},
        {"--max-steps", "N", "stop after N model turns (exit 3)"},
        {"--max-tokens", "N", "stop after N generated tokens (exit 3)"},
        {"--timeout", "DURATION", "stop after this wall time: 90, 90s, 500ms, 5m (exit 3)"},
        {"--context-limit", "N",
         "compact (summarise, restart the session) when the context nears N tokens"},
        {"--permission", "MODE", "read-only (default), ask, auto or full"},
        {"--allow", "RULE", "allow TOOL or TOOL(PATTERN), e.g. 'shell(make *)'", true},
        {"--deny", "RULE", "deny TOOL or TOOL(PATTERN)", true},
        {"--data-dir", "DIR",
         "where sessions and journals are kept (default ~/.local/share/osprey)"},
        {"--resume", "ID|last",
         "continue a session from its journal and KV snapshots (PROMPT: a follow-up message)"},
        {"--fork", "ID[@STEP]",
         "start a new session from another's state after STEP (default: its end) and go on "
         "with PROMPT"},
        {"--kv-disk-budget", "SIZE", "disk space for KV snapshots, LRU-evicted (default 20G)"},
        {"--seed", "N", "sampling seed of the local backend"},
        {"--token-delay", "MS", "pause before each generated token (demos, interruption tests)"},
    };
    cmd.run = run_agent;
    return cmd;
}

}  // namespace osprey::agent::cli
