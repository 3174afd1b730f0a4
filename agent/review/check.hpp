#pragma once
// Findings are checked before they are reported: the file exists in the reviewed revision, the
// lines exist, and in diff modes the range is clamped to the lines the change touches (a finding
// wholly outside the change is dropped). Dropped findings are kept with the reason, for the
// reports.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent/review/findings.hpp"
#include "tools/git/changes.hpp"

namespace osprey::agent::review {

struct ReviewScope {
    std::filesystem::path root;  // the repository's working tree
    std::string revision;        // commit id holding the reviewed files; empty = working tree
    // Diff modes: the changed files (their new-side line ranges). nullopt: --all.
    std::optional<std::vector<tools::ChangedFile>> changes;
    std::vector<std::string> path_globs;  // --paths; empty = every file
};

struct DroppedFinding {
    Finding finding;
    std::string reason;
};

struct CheckedFindings {
    std::vector<Finding> kept;  // with `code` filled, lines clamped
    std::vector<DroppedFinding> dropped;
};

// Whether `path` matches one of `globs` (or `globs` is empty).
bool in_paths(const std::vector<std::string>& globs, const std::string& path);

CheckedFindings check_findings(std::vector<Finding> findings, const ReviewScope& scope);

}  // namespace osprey::agent::review
