#pragma once
// The review's outputs: Markdown for people, JSON (the findings schema plus what was dropped), and
// SARIF 2.1.0 for code scanning (one rule per category; level error for critical/high, warning
// for medium, note for low/info; partialFingerprints that survive line moves: a hash of the rule,
// the file, the normalised title and the code text of the lines).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/review/check.hpp"
#include "agent/review/findings.hpp"

namespace osprey::agent::review {

struct ReviewReport {
    std::string summary;
    std::string verdict;  // approve | comment | request-changes
    std::vector<Finding> findings;
    std::vector<DroppedFinding> dropped;  // invalid: wrong file, lines, outside the change
    std::int64_t below_min_severity = 0;  // valid but under --min-severity (not shown)
    std::string target;                   // what was reviewed, in words
    std::string revision;                 // commit id; empty = working tree
    std::string model;                    // model fingerprint
};

// The stable fingerprint of a finding (16 hex digits).
std::string fingerprint(const Finding& finding);

std::string render_markdown(const ReviewReport& report);
nlohmann::json render_json(const ReviewReport& report);
nlohmann::json render_sarif(const ReviewReport& report, const std::string& tool_version);

}  // namespace osprey::agent::review
