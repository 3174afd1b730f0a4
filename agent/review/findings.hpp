#pragma once
// The reviewer's final answer: {summary, verdict, findings[]} (the findings schema, a contract:
// docs/cli.md), its JSON Schema (used both to validate a scripted answer and to constrain the local
// model's decoding), and parsing with clear errors.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::agent::review {

enum class Severity { info = 0, low = 1, medium = 2, high = 3, critical = 4 };
std::string_view to_string(Severity severity);
// critical | high | medium | low | info; nullopt otherwise.
std::optional<Severity> parse_severity(std::string_view text);

struct Finding {
    std::string title;
    std::string body;
    Severity severity = Severity::info;
    double confidence = 0.0;
    std::string category;  // bug | security | performance | maintainability | style
    std::string file;
    std::int64_t start_line = 0;
    std::int64_t end_line = 0;
    std::optional<std::string> suggestion;
    // Filled by validation: the text of lines start_line..end_line in the reviewed revision.
    std::string code;
};

struct ReviewAnswer {
    std::string summary;
    std::string verdict;  // approve | comment | request-changes
    std::vector<Finding> findings;
};

// The final answer could not be read: not JSON, or not the schema. The message says why.
class AnswerError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The JSON Schema of the final answer (properties in the order the answer is written).
const nlohmann::ordered_json& answer_schema();
// The categories, in the order SARIF rules list them.
const std::vector<std::string>& categories();

// Parses the answer text: one JSON object (a ```json fence around it is tolerated), validated
// against answer_schema(). Throws AnswerError.
ReviewAnswer parse_answer(std::string_view text);

// The finding as the findings schema spells it (no `code`).
nlohmann::json to_json(const Finding& finding);

}  // namespace osprey::agent::review
