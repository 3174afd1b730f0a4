#include "agent/review/findings.hpp"

#include "tools/core/json_schema.hpp"

namespace osprey::agent::review {

using nlohmann::json;

std::string_view to_string(Severity severity) {
    switch (severity) {
        case Severity::critical:
            return "critical";
        case Severity::high:
            return "high";
        case Severity::medium:
            return "medium";
        case Severity::low:
            return "low";
        case Severity::info:
            return "info";
    }
    return "info";
}

std::optional<Severity> parse_severity(std::string_view text) {
    for (Severity s :
         {Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::info}) {
        if (text == to_string(s)) {
            return s;
        }
    }
    return std::nullopt;
}

const std::vector<std::string>& categories() {
    static const std::vector<std::string> c = {"bug", "security", "performance", "maintainability",
                                               "style"};
    return c;
}

const nlohmann::ordered_json& answer_schema() {
    using ojson = nlohmann::ordered_json;
    static const ojson schema = [] {
        ojson finding = {{"type", "object"},
                         {"properties",
                          {{"title", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}},
                           {"body", {{"type", "string"}, {"maxLength", 4000}}},
                           {"severity", {{"enum", {"critical", "high", "medium", "low", "info"}}}},
                           {"confidence", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
                           {"category", {{"enum", categories()}}},
                           {"file", {{"type", "string"}, {"minLength", 1}, {"maxLength", 1024}}},
                           {"start_line", {{"type", "integer"}, {"minimum", 1}}},
                           {"end_line", {{"type", "integer"}, {"minimum", 1}}},
                           {"suggestion", {{"type", "string"}, {"maxLength", 8000}}}}},
                         {"required",
                          {"title", "body", "severity", "confidence", "category", "file",
                           "start_line", "end_line"}},
                         {"additionalProperties", false}};
        return ojson{{"type", "object"},
                     {"properties",
                      {{"summary", {{"type", "string"}, {"maxLength", 4000}}},
                       {"verdict", {{"enum", {"approve", "comment", "request-changes"}}}},
                       {"findings", {{"type", "array"}, {"maxItems", 100}, {"items", finding}}}}},
                     {"required", {"summary", "verdict", "findings"}},
                     {"additionalProperties", false}};
    }();
    return schema;
}

namespace {

std::string strip_fence(std::string_view text) {
    std::string s(text);
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return {};
    }
    s = s.substr(first);
    if (s.rfind("```", 0) == 0) {
        const auto nl = s.find('\n');
        const auto close = s.rfind("```");
        if (nl != std::string::npos && close != std::string::npos && close > nl) {
            s = s.substr(nl + 1, close - nl - 1);
        }
    }
    return s;
}

}  // namespace

ReviewAnswer parse_answer(std::string_view text) {
    const std::string body = strip_fence(text);
    if (body.empty()) {
        throw AnswerError("the final answer is empty (expected one JSON object)");
    }
    json doc;
    try {
        doc = json::parse(body);
    } catch (const json::parse_error& e) {
        throw AnswerError(std::string("the final answer is not valid JSON: ") + e.what());
    }
    static const json plain = json::parse(answer_schema().dump());
    const auto problems = tools::validate_json(plain, doc);
    if (!problems.empty()) {
        std::string list;
        for (const auto& p : problems) {
            list += "\n  - " + p;
        }
        throw AnswerError("the final answer does not match the findings schema:" + list);
    }
    ReviewAnswer answer;
    answer.summary = doc.at("summary").get<std::string>();
    answer.verdict = doc.at("verdict").get<std::string>();
    for (const auto& f : doc.at("findings")) {
        Finding finding;
        finding.title = f.at("title").get<std::string>();
        finding.body = f.at("body").get<std::string>();
        finding.severity = *parse_severity(f.at("severity").get<std::string>());
        finding.confidence = f.at("confidence").get<double>();
        finding.category = f.at("category").get<std::string>();
        finding.file = f.at("file").get<std::string>();
        finding.start_line = f.at("start_line").get<std::int64_t>();
        finding.end_line = f.at("end_line").get<std::int64_t>();
        if (f.contains("suggestion")) {
            finding.suggestion = f.at("suggestion").get<std::string>();
        }
        answer.findings.push_back(std::move(finding));
    }
    return answer;
}

json to_json(const Finding& f) {
    json j = json::object();
    j["title"] = f.title;
    j["body"] = f.body;
    j["severity"] = std::string(to_string(f.severity));
    j["confidence"] = f.confidence;
    j["category"] = f.category;
    j["file"] = f.file;
    j["start_line"] = f.start_line;
    j["end_line"] = f.end_line;
    if (f.suggestion) {
        j["suggestion"] = *f.suggestion;
    }
    return j;
}

}  // namespace osprey::agent::review
