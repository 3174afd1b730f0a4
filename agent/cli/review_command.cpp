#include "agent/cli/review_command.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "agent/build_info.hpp"
#include "agent/review/check.hpp"
#include "agent/review/report.hpp"
#include "agent/review/reviewer.hpp"
#include "agent/runtime/agent.hpp"
#include "model/weights.hpp"
#include "tools/core/file_io.hpp"
#include "tools/git/repository.hpp"

namespace osprey::agent::cli {
namespace {

using nlohmann::json;
namespace rv = review;

std::int64_t number(const Args& args, const char* name, std::int64_t min) {
    const std::string v = *args.value(name);
    try {
        std::size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used == v.size() && n >= min) {
            return n;
        }
    } catch (const std::exception&) {
    }
    throw UsageError(std::string(name) + " needs an integer ≥ " + std::to_string(min) + ", got '" +
                     v + "'");
}

std::chrono::milliseconds duration(const std::string& text) {
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
    return std::chrono::milliseconds(unit == "ms" ? n : n * (unit == "m" ? 60000 : 1000));
}

rv::Severity level(const Args& args, const char* name) {
    const std::string v = *args.value(name);
    if (auto s = rv::parse_severity(v)) {
        return *s;
    }
    throw UsageError(std::string(name) + ": unknown level '" + v +
                     "' (expected critical, high, medium, low or info)");
}

std::filesystem::path default_tokenizer() {
    if (const char* env = std::getenv("OSPREY_TOKENIZER"); env != nullptr && *env != '\0') {
        return env;
    }
    return OSPREY_DEFAULT_TOKENIZER;
}

int run_review_command(const Args& args, Io& io) {
    // Flags first: every usage error is found before any work.
    const char* modes[] = {"--uncommitted", "--base", "--commit", "--range", "--all"};
    std::vector<std::string> given;
    for (const char* m : modes) {
        if (args.has(m)) {
            given.emplace_back(m);
        }
    }
    if (given.size() > 1) {
        throw UsageError("choose one of --uncommitted, --base, --commit, --range and --all (got " +
                         given[0] + " and " + given[1] + ")");
    }
    const std::string mode = given.empty() ? "--uncommitted" : given[0];
    std::vector<std::string> globs = args.values("--paths");
    if (!args.positionals().empty()) {
        if (globs.empty()) {
            throw UsageError("unexpected argument '" + args.positionals().front() +
                             "' (path globs follow --paths)");
        }
        globs.insert(globs.end(), args.positionals().begin(), args.positionals().end());
    }
    const std::string format = args.value("--format").value_or("md");
    if (format != "md" && format != "json" && format != "sarif") {
        throw UsageError("--format must be md, json or sarif, got '" + format + "'");
    }
    const rv::Severity min_severity =
        args.has("--min-severity") ? level(args, "--min-severity") : rv::Severity::info;
    std::optional<rv::Severity> fail_on;
    if (args.has("--fail-on") && *args.value("--fail-on") != "none") {
        fail_on = level(args, "--fail-on");
    }
    rv::ReviewRequest request;
    request.mode = args.value("--mode").value_or("think");
    try {
        (void)chat_options_for(request.mode);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--mode: ") + e.what());
    }
    request.budgets.max_steps = 40;
    if (args.has("--max-steps")) {
        request.budgets.max_steps = number(args, "--max-steps", 1);
    }
    if (args.has("--max-tokens")) {
        request.budgets.max_tokens = number(args, "--max-tokens", 1);
    }
    if (auto t = args.value("--timeout")) {
        request.budgets.timeout = duration(*t);
    }
    if (args.has("--answer-bytes")) {
        request.answer_bytes = static_cast<std::uint32_t>(number(args, "--answer-bytes", 64));
    }
    if (args.has("--group-tokens")) {
        request.group_tokens = static_cast<std::size_t>(number(args, "--group-tokens", 256));
    }
    std::optional<std::uint64_t> seed;
    if (args.has("--seed")) {
        seed = static_cast<std::uint64_t>(number(args, "--seed", 0));
    }
    const auto spec = args.value("--model");
    if (!spec) {
        throw UsageError(
            "--model is required: a model folder, or scripted:FILE for the test "
            "backend");
    }
    if (mode == "--range") {
        const std::string r = *args.value("--range");
        if (r.find("..") == std::string::npos) {
            throw UsageError("--range needs A..B (or A...B for the merge base), got '" + r + "'");
        }
    }

    // The repository and the change.
    std::error_code ec;
    const std::filesystem::path cwd = args.value("--cwd").value_or(".");
    const auto dir = std::filesystem::canonical(cwd, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
        throw UsageError("--cwd: '" + cwd.string() + "' is not a folder");
    }
    try {
        request.root = tools::repository_root(dir);
    } catch (const tools::GitError& e) {
        throw UsageError("not a git repository: " + cwd.string() + " (" + e.what() + ")");
    }
    request.path_globs = globs;
    std::string revision;
    try {
        if (mode == "--uncommitted") {
            request.change = tools::uncommitted_change(request.root);
        } else if (mode == "--base") {
            request.change = tools::base_change(request.root, *args.value("--base"));
        } else if (mode == "--commit") {
            request.change = tools::commit_change(request.root, *args.value("--commit"));
        } else if (mode == "--range") {
            const std::string r = *args.value("--range");
            const bool three = r.find("...") != std::string::npos;
            const auto at = r.find(three ? "..." : "..");
            const std::string a = r.substr(0, at);
            const std::string b = r.substr(at + (three ? 3 : 2));
            request.change = tools::range_change(request.root, a.empty() ? "HEAD" : a,
                                                 b.empty() ? "HEAD" : b, three);
        }
    } catch (const tools::GitError& e) {
        throw UsageError(e.what());
    }
    if (request.change) {
        auto& files = request.change->files;
        files.erase(std::remove_if(
                        files.begin(), files.end(),
                        [&](const tools::ChangedFile& f) { return !rv::in_paths(globs, f.path); }),
                    files.end());
        revision = request.change->revision;
    }

    // The model.
    std::filesystem::path tokenizer_path = args.value("--tokenizer").value_or("");
    const bool scripted = spec->rfind("scripted:", 0) == 0;
    if (tokenizer_path.empty()) {
        tokenizer_path = (!scripted && std::filesystem::exists(*spec + "/tokenizer.json"))
                             ? std::filesystem::path(*spec) / "tokenizer.json"
                             : default_tokenizer();
    }
    std::unique_ptr<ModelClient> client;
    try {
        auto tokenizer =
            std::make_shared<const model::Tokenizer>(model::Tokenizer::load(tokenizer_path));
        if (scripted) {
            client = std::make_unique<ModelClient>(tokenizer, load_script(spec->substr(9)), *spec);
        } else {
            auto weights = model::load_model(*spec);
            std::shared_ptr<model::Backend> backend = model::make_cpu_backend(weights);
            model::SamplingParams sampling;
            sampling.temperature = 1.0F;
            sampling.top_p = 1.0F;
            sampling.seed = seed.value_or(0);
            client = std::make_unique<ModelClient>(tokenizer, backend, model::SessionOptions{},
                                                   sampling, "local:" + *spec);
        }
    } catch (const std::exception& e) {
        io.err << "osprey review: cannot load the model " << *spec << ": " << e.what() << "\n";
        return kExitUsage;
    }

    if (args.has("--token-delay")) {
        client->set_token_delay(std::chrono::milliseconds(number(args, "--token-delay", 1)));
    }

    rv::ReviewProgress progress;
    progress.log = [&](const std::string& line) { io.err << line << "\n" << std::flush; };
    rv::ReviewReport report;
    report.target = request.change ? request.change->description : "the whole repository";
    report.revision = revision;
    report.model = client->fingerprint();
    try {
        rv::ReviewAnswer answer = rv::run_review(request, *client, progress);
        report.summary = answer.summary;
        report.verdict = answer.verdict;
        rv::ReviewScope scope;
        scope.root = request.root;
        scope.revision = revision;
        if (request.change) {
            scope.changes = request.change->files;
        }
        scope.path_globs = globs;
        rv::CheckedFindings checked = rv::check_findings(std::move(answer.findings), scope);
        report.dropped = std::move(checked.dropped);
        for (auto& f : checked.kept) {
            if (f.severity < min_severity) {
                ++report.below_min_severity;
            } else {
                report.findings.push_back(std::move(f));
            }
        }
        std::stable_sort(
            report.findings.begin(), report.findings.end(),
            [](const rv::Finding& a, const rv::Finding& b) { return a.severity > b.severity; });
    } catch (const rv::ReviewError& e) {
        io.err << "osprey review: " << e.what() << "\n";
        return e.exit_code();
    }

    std::string text;
    if (format == "md") {
        text = rv::render_markdown(report);
    } else if (format == "json") {
        text = rv::render_json(report).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    } else {
        text = rv::render_sarif(report, std::string(build_info().version))
                   .dump(2, ' ', false, json::error_handler_t::replace) +
               "\n";
    }
    if (auto out = args.value("--output")) {
        try {
            tools::write_file_atomic(*out, text);
        } catch (const std::exception& e) {
            io.err << "osprey review: cannot write " << *out << ": " << e.what() << "\n";
            return kExitFailure;
        }
        io.err << "osprey review: " << report.findings.size() << " findings ("
               << report.dropped.size() << " dropped as invalid), verdict " << report.verdict
               << " -> " << *out << "\n";
    } else {
        io.out << text;
        io.out.flush();
    }
    if (fail_on) {
        for (const auto& f : report.findings) {
            if (f.severity >= *fail_on) {
                return kExitFailure;
            }
        }
    }
    return kExitOk;
}

}  // namespace

Command review_command() {
    Command cmd;
    cmd.name = "review";
    cmd.summary = "review a change or the repository; findings as Markdown, JSON or SARIF";
    cmd.description =
        "Runs the agent as a read-only reviewer (git and code-navigation tools, read, grep) on\n"
        "a change (--uncommitted, the default; --base REF; --commit SHA; --range A..B or A...B)\n"
        "or on the whole repository (--all, file group by file group). The final answer is the\n"
        "findings JSON; with a local model it is decoded under the schema (it always parses).\n"
        "Findings are checked: the file and lines exist in the reviewed revision and, for a\n"
        "change, lie in it (ranges are clamped to the changed lines); invalid ones are dropped\n"
        "and counted. Exit codes: 0 no finding at or above --fail-on, 1 some (or the review\n"
        "failed), 2 usage error (bad flags or level, not a git repository, unknown revision).";
    cmd.positional_usage = "[GLOB...]";
    cmd.max_positionals = 64;
    cmd.options = {
        {"--uncommitted", "", "review HEAD vs the working tree: staged, unstaged, untracked"},
        {"--base", "REF", "review merge-base(REF, HEAD) vs the working tree"},
        {"--commit", "SHA", "review one commit against its first parent"},
        {"--range", "A..B", "review B against A (A...B: against their merge base)"},
        {"--all", "", "review the whole repository, file group by file group"},
        {"--paths", "GLOB", "only files matching GLOB (repeatable; more globs may follow)", true},
        {"--format", "FORMAT", "md (default), json or sarif"},
        {"--output", "FILE", "write the report to FILE (atomically) instead of stdout"},
        {"--min-severity", "LEVEL", "report findings at or above LEVEL (default info)"},
        {"--fail-on", "LEVEL", "exit 1 when a finding is at or above LEVEL (default none)"},
        {"--model", "DIR|scripted:FILE", "a model folder, or the scripted test backend"},
        {"--tokenizer", "FILE", "tokenizer.json (default: the model's, else the test tokenizer)"},
        {"--seed", "N", "sampling seed of the local backend (same inputs, same findings)"},
        {"--mode", "MODE", "chat, think (default) or max"},
        {"--cwd", "DIR", "a folder inside the repository (default: .)"},
        {"--max-steps", "N", "model turns per review session (default 40)"},
        {"--max-tokens", "N", "generated tokens per review session before the answer"},
        {"--timeout", "DURATION", "wall time per review session before the answer"},
        {"--answer-bytes", "N", "byte budget of a constrained final answer (default 32768)"},
        {"--group-tokens", "N", "--all: estimated tokens per file group (default 24000)"},
        {"--token-delay", "MS", "pause before each generated token (demos, interruption tests)"},
    };
    cmd.run = run_review_command;
    return cmd;
}

}  // namespace osprey::agent::cli
