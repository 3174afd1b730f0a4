#pragma once
// The reviewer: the agent loop (agent/runtime) with a read-only permission policy, the review
// instructions, the read-only tools (git, code navigation, read/grep/glob/list) and the change in
// the prompt. Its final answer is the findings JSON: read from the last turn with the scripted
// backend, and decoded under the answer schema (model::JsonConstraint) with the local backend. In
// --all mode the repository is reviewed file group by file group (groups drawn from the repo map
// within a token budget), one fresh session each.

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/loop_guard.hpp"
#include "agent/review/findings.hpp"
#include "agent/runtime/model_client.hpp"
#include "tools/git/changes.hpp"

namespace osprey::agent::review {

struct ReviewRequest {
    std::filesystem::path root;           // the repository's working tree
    std::optional<tools::Change> change;  // diff modes; nullopt: --all
    std::vector<std::string> path_globs;  // --paths (already applied to `change`)
    std::string mode = "think";           // chat | think | max
    Budgets budgets;                      // per review session
    std::uint32_t answer_bytes = 32768;   // byte budget of a constrained answer
    std::size_t group_tokens = 24000;     // --all: the estimated tokens of one file group
    std::size_t patch_chars = 160000;     // the diff shown in the prompt is cut past this
};

// The reviewer could not produce an answer (model failure, invalid final answer, interrupted).
class ReviewError : public std::runtime_error {
public:
    ReviewError(const std::string& message, int exit_code)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

private:
    int exit_code_;
};

struct ReviewProgress {
    std::function<void(const std::string&)> log;  // one line for people (stderr)
};

// The file groups of an --all review: every reviewable file (text, under 256 KiB, matching
// `globs`), ordered by repo-map rank, grouped with the files of the same folder within `budget`
// estimated tokens.
std::vector<std::vector<std::string>> file_groups(const std::filesystem::path& root,
                                                  const std::vector<std::string>& globs,
                                                  std::size_t budget_tokens);

// The merged answer of every session. SIGINT/SIGTERM interrupt it: ReviewError 130/143.
ReviewAnswer run_review(const ReviewRequest& request, ModelClient& client,
                        const ReviewProgress& progress);

// The user message of one review session.
std::string review_prompt(const ReviewRequest& request, const std::vector<std::string>& group);

}  // namespace osprey::agent::review
