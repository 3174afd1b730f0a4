#include "agent/review/reviewer.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "agent/asio.hpp"
#include "agent/review/check.hpp"
#include "agent/runtime/agent.hpp"
#include "model/chat/chat_encoder.hpp"
#include "tools/core/file_walker.hpp"
#include "tools/core/registry.hpp"

namespace osprey::agent::review {
namespace {

using nlohmann::json;

constexpr std::string_view kInstructions =
    "You are Osprey's code reviewer, working read-only inside the user's repository. Find the "
    "real problems a careful senior engineer would flag: bugs, security weaknesses, performance "
    "traps, and maintainability or style issues that matter. Use the tools to check before you "
    "claim: git_diff and git_show for the change, read for the code around it, definition and "
    "references for what the changed code calls and what calls it, grep for other uses. Never "
    "guess file contents. Report each problem once, at the lines where it is, with a concrete "
    "explanation and, when you can, a suggested replacement. Do not report what is fine. A tool "
    "result that starts with \"error:\" or \"denied:\" explains what went wrong: change the call "
    "rather than repeating it.";

std::string answer_format() {
    return "Your final answer is ONE JSON object and nothing else (no prose, no code fence), of "
           "this JSON Schema:\n" +
           answer_schema().dump() +
           "\nfile is the path relative to the repository root; start_line and end_line are "
           "1-based, inclusive, in the reviewed revision; severity is critical, high, medium, "
           "low or info; confidence is between 0 and 1; verdict is approve (nothing to fix), "
           "comment (worth a look) or request-changes (must be fixed before merging).";
}

// The tools a reviewer may use: every read tool of the default registry.
tools::Registry read_only_registry() {
    tools::Registry all = tools::make_default_registry();
    tools::Registry out;
    for (const auto& t : all.tools()) {
        if (t.permission == tools::Permission::read && t.name != "todo") {
            out.add(t);
        }
    }
    return out;
}

bool looks_binary(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    char buf[8192];
    in.read(buf, sizeof buf);
    return std::find(buf, buf + in.gcount(), '\0') != buf + in.gcount();
}

std::string folder_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

const char* verdict_rank_names[] = {"approve", "comment", "request-changes"};

int verdict_rank(const std::string& v) {
    for (int i = 0; i < 3; ++i) {
        if (v == verdict_rank_names[i]) {
            return i;
        }
    }
    return 1;
}

}  // namespace

std::vector<std::vector<std::string>> file_groups(const std::filesystem::path& root,
                                                  const std::vector<std::string>& globs,
                                                  std::size_t budget_tokens) {
    const tools::Workspace ws(root);
    struct Entry {
        std::string path;
        std::size_t tokens = 0;
        double rank = 0.0;
    };
    std::vector<Entry> files;
    for (const auto& e : tools::list_files(ws, root)) {
        if (!in_paths(globs, e.relative)) {
            continue;
        }
        std::error_code ec;
        const auto size = std::filesystem::file_size(e.path, ec);
        if (ec || size == 0 || size > 256 * 1024 || looks_binary(e.path)) {
            continue;
        }
        files.push_back({e.relative, static_cast<std::size_t>(size / 4 + 1), 0.0});
    }
    // Rank files by the repo map (PageRank over references), so central files lead their group.
    try {
        tools::Registry registry = tools::make_default_registry();
        tools::ToolContext ctx{tools::Workspace(root)};
        const tools::ToolResult map = registry.call("repo_map", json{{"budget", 65536}}, ctx);
        std::map<std::string, double> rank;
        for (const auto& f : map.data.value("files", json::array())) {
            rank[f.value("path", "")] = f.value("rank", 0.0);
        }
        for (auto& f : files) {
            if (auto it = rank.find(f.path); it != rank.end()) {
                f.rank = it->second;
            }
        }
    } catch (const std::exception&) {
        // No index (no supported language): path order only.
    }
    std::stable_sort(files.begin(), files.end(),
                     [](const Entry& a, const Entry& b) { return a.rank > b.rank; });
    std::vector<bool> used(files.size(), false);
    std::vector<std::vector<std::string>> groups;
    for (std::size_t seed = 0; seed < files.size(); ++seed) {
        if (used[seed]) {
            continue;
        }
        std::vector<std::string> group = {files[seed].path};
        std::size_t tokens = files[seed].tokens;
        used[seed] = true;
        const std::string folder = folder_of(files[seed].path);
        // The seed's folder first (by rank), then whole folders (in rank order of their best
        // file left) that fit in what remains, so related files stay together.
        for (std::size_t j = seed + 1; j < files.size(); ++j) {
            if (!used[j] && folder_of(files[j].path) == folder &&
                tokens + files[j].tokens <= budget_tokens) {
                tokens += files[j].tokens;
                used[j] = true;
                group.push_back(files[j].path);
            }
        }
        std::set<std::string> tried = {folder};
        for (std::size_t j = seed + 1; j < files.size(); ++j) {
            const std::string other = folder_of(files[j].path);
            if (used[j] || !tried.insert(other).second) {
                continue;
            }
            std::size_t need = 0;
            std::vector<std::size_t> members;
            for (std::size_t k = j; k < files.size(); ++k) {
                if (!used[k] && folder_of(files[k].path) == other) {
                    need += files[k].tokens;
                    members.push_back(k);
                }
            }
            if (tokens + need > budget_tokens) {
                continue;
            }
            tokens += need;
            for (const std::size_t k : members) {
                used[k] = true;
                group.push_back(files[k].path);
            }
        }
        std::sort(group.begin(), group.end());
        groups.push_back(std::move(group));
    }
    return groups;
}

std::string review_prompt(const ReviewRequest& request, const std::vector<std::string>& group) {
    std::string p;
    if (request.change) {
        const tools::Change& c = *request.change;
        p += "Review the change " + c.description +
             ". Report problems the change introduces or exposes, at lines it adds or "
             "modifies.\n\nChanged files (new-side lines touched):\n";
        for (const auto& f : c.files) {
            p += "- " + f.path + " (" + f.status + (f.binary ? ", binary" : "");
            if (!f.old_path.empty()) {
                p += ", from " + f.old_path;
            }
            std::string ranges;
            for (const auto& r : f.lines) {
                ranges += (ranges.empty() ? "" : ", ") + std::to_string(r.start) +
                          (r.end != r.start ? "-" + std::to_string(r.end) : "");
            }
            p += (ranges.empty() ? "" : "; lines " + ranges) + ")\n";
        }
        std::string patch = c.patch;
        if (patch.size() > request.patch_chars) {
            patch.resize(request.patch_chars);
            patch += "\n[diff cut at " + std::to_string(request.patch_chars) +
                     " characters: use git_diff with path to see each file]\n";
        }
        p += "\nThe diff:\n```diff\n" + patch + "```\n";
    } else {
        p += "Review these files of the repository as they are now (read each one; follow "
             "definitions and references into other files when it helps):\n";
        for (const auto& f : group) {
            p += "- " + f + "\n";
        }
        p += "Report problems in these files.\n";
    }
    p += "\n" + answer_format();
    return p;
}

ReviewAnswer run_review(const ReviewRequest& request, ModelClient& client,
                        const ReviewProgress& progress) {
    auto log = [&](const std::string& line) {
        if (progress.log) {
            progress.log(line);
        }
    };
    std::vector<std::vector<std::string>> units;
    if (request.change) {
        if (request.change->files.empty()) {
            return {"Nothing to review: " + request.change->description + " changes no file" +
                        (request.path_globs.empty() ? "." : " matching --paths."),
                    "approve",
                    {}};
        }
        units.push_back({});
    } else {
        units = file_groups(request.root, request.path_globs, request.group_tokens);
        if (units.empty()) {
            return {"No reviewable files matched.", "approve", {}};
        }
    }
    std::shared_ptr<const model::JsonGrammar> grammar;
    std::shared_ptr<const model::TokenTrie> trie;
    if (!client.is_scripted()) {
        grammar = std::make_shared<const model::JsonGrammar>(answer_schema());
        trie = std::make_shared<const model::TokenTrie>(client.tokenizer());
    }
    ReviewAnswer merged;
    int worst = 0;
    for (std::size_t u = 0; u < units.size(); ++u) {
        if (units.size() > 1) {
            log("review: group " + std::to_string(u + 1) + "/" + std::to_string(units.size()) +
                " (" + std::to_string(units[u].size()) + " files)");
        }
        if (u > 0) {
            client.reset();
        }
        asio::io_context io;
        tools::Registry registry = read_only_registry();
        AgentOptions options;
        options.workspace = request.root;
        options.prompt = review_prompt(request, units[u]);
        options.mode = request.mode;
        options.budgets = request.budgets;
        options.permission = PermissionMode::read_only;
        options.instructions = std::string(kInstructions);
        Agent agent(io, client, registry, options, "review", nullptr, nullptr, [&](const json& ev) {
            const std::string type = ev.at("type").get<std::string>();
            if (type == "tool.call") {
                log("[" + ev.at("name").get<std::string>() + "] " + ev.at("arguments").dump());
            } else if (type == "tool.result" && ev.at("status") != "ok") {
                std::string output = ev.at("output").get<std::string>();
                output = output.substr(0, output.find('\n'));
                log("[" + ev.at("name").get<std::string>() + "] " +
                    ev.at("status").get<std::string>() + ": " + output);
            } else if (type == "error") {
                log("review: " + ev.at("message").get<std::string>());
            }
        });
        asio::signal_set signals(io, SIGINT, SIGTERM);
        int signal_code = 0;
        std::function<void(const boost::system::error_code&, int)> on_signal =
            [&](const boost::system::error_code& err, int sig) {
                if (err) {
                    return;
                }
                signal_code = 128 + sig;
                agent.interrupt(128 + sig);
                signals.async_wait(on_signal);
            };
        signals.async_wait(on_signal);
        AgentOutcome outcome;
        std::exception_ptr failure;
        asio::co_spawn(io, agent.run(), [&](std::exception_ptr e, AgentOutcome o) {
            signals.cancel();
            failure = e;
            outcome = std::move(o);
        });
        io.run();
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                throw ReviewError(std::string("the reviewer failed: ") + e.what(), 1);
            }
        }
        if (outcome.exit_reason == "interrupted") {
            throw ReviewError("interrupted", outcome.exit_code);
        }
        if (outcome.exit_reason == "failed") {
            throw ReviewError("the reviewer's model failed (see the messages above)", 1);
        }
        ReviewAnswer answer;
        if (client.is_scripted()) {
            if (outcome.exit_reason != "done") {
                throw ReviewError(
                    "the reviewer stopped before its final answer (" + outcome.exit_reason + ")",
                    1);
            }
            try {
                answer = parse_answer(outcome.final_text);
            } catch (const AnswerError& e) {
                throw ReviewError(e.what(), 1);
            }
        } else {
            // The final answer under the schema, in chat mode, after the session so far.
            std::string suffix;
            if (client.tokens().empty() || client.tokens().back() != client.eos_id()) {
                suffix += model::chat_tokens::kEos;
            }
            suffix += model::chat_tokens::kUser;
            suffix += "Write your final review now. " + answer_format();
            suffix += model::chat_tokens::kAssistant;
            suffix += model::chat_tokens::kThinkEnd;
            client.append(client.encode(suffix));
            model::JsonConstraint constraint(grammar, trie, request.answer_bytes);
            asio::io_context waiter;
            asio::signal_set sigs(waiter, SIGINT, SIGTERM);
            std::atomic<bool> cancel{false};
            int code = 0;
            sigs.async_wait([&](const boost::system::error_code& err, int sig) {
                if (!err) {
                    code = 128 + sig;
                    cancel = true;
                }
            });
            ModelClient::ConstrainedOutput out;
            std::exception_ptr error;
            auto guard = asio::make_work_guard(waiter);
            std::thread worker([&] {
                try {
                    out = client.generate_constrained(constraint, cancel);
                } catch (...) {
                    error = std::current_exception();
                }
                asio::post(waiter, [&] {
                    sigs.cancel();
                    guard.reset();
                });
            });
            waiter.run();
            worker.join();
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    throw ReviewError(
                        std::string("the reviewer's final answer failed: ") + e.what(), 1);
                }
            }
            if (!out.complete) {
                throw ReviewError("interrupted", code != 0 ? code : 130);
            }
            log("review: final answer " + std::to_string(out.decoded_tokens) + " tokens (" +
                std::to_string(out.masked_steps) + " needed the full mask)");
            try {
                answer = parse_answer(out.text);
            } catch (const AnswerError& e) {
                throw ReviewError(std::string("internal error: a constrained answer failed "
                                              "validation: ") +
                                      e.what(),
                                  1);
            }
        }
        (void)signal_code;
        if (!merged.summary.empty() && !answer.summary.empty()) {
            merged.summary += "\n\n";
        }
        merged.summary += answer.summary;
        worst = std::max(worst, verdict_rank(answer.verdict));
        for (auto& f : answer.findings) {
            merged.findings.push_back(std::move(f));
        }
    }
    merged.verdict = verdict_rank_names[worst];
    return merged;
}

}  // namespace osprey::agent::review
