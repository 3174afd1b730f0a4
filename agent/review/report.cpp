#include "agent/review/report.hpp"

#include <cctype>
#include <cstdio>
#include <sstream>

namespace osprey::agent::review {

using nlohmann::json;

namespace {

// FNV-1a, 64 bits: tiny, stable across platforms and runs.
std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 0xcbf29ce484222325ULL) {
    for (const unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

// Lowercase letters and digits, single spaces between words.
std::string normalise_words(std::string_view text) {
    std::string out;
    bool space = false;
    for (const unsigned char c : text) {
        if (std::isalnum(c) != 0) {
            if (space && !out.empty()) {
                out += ' ';
            }
            space = false;
            out += static_cast<char>(std::tolower(c));
        } else {
            space = true;
        }
    }
    return out;
}

// Each line without leading/trailing whitespace; blank lines dropped.
std::string normalise_code(std::string_view code) {
    std::string out;
    std::istringstream in{std::string(code)};
    std::string line;
    while (std::getline(in, line)) {
        const auto a = line.find_first_not_of(" \t\r");
        if (a == std::string::npos) {
            continue;
        }
        const auto b = line.find_last_not_of(" \t\r");
        out += line.substr(a, b - a + 1);
        out += '\n';
    }
    return out;
}

std::string lines_of(const Finding& f) {
    return f.start_line == f.end_line
               ? std::to_string(f.start_line)
               : std::to_string(f.start_line) + "-" + std::to_string(f.end_line);
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string fence_for(const std::string& text) {
    std::string fence = "```";
    while (text.find(fence) != std::string::npos) {
        fence += '`';
    }
    return fence;
}

const char* level_of(Severity s) {
    switch (s) {
        case Severity::critical:
        case Severity::high:
            return "error";
        case Severity::medium:
            return "warning";
        default:
            return "note";
    }
}

std::string rule_name(const std::string& category) {
    if (category == "bug") {
        return "Bug";
    }
    if (category == "security") {
        return "SecurityIssue";
    }
    if (category == "performance") {
        return "PerformanceIssue";
    }
    if (category == "maintainability") {
        return "MaintainabilityIssue";
    }
    return "StyleIssue";
}

std::string rule_text(const std::string& category) {
    if (category == "bug") {
        return "Incorrect behaviour introduced or exposed by the code";
    }
    if (category == "security") {
        return "A weakness an attacker could exploit";
    }
    if (category == "performance") {
        return "Needless work, memory or latency";
    }
    if (category == "maintainability") {
        return "Code that is hard to understand, change or test";
    }
    return "Style and convention";
}

json dropped_json(const std::vector<DroppedFinding>& dropped) {
    json list = json::array();
    for (const auto& d : dropped) {
        list.push_back({{"title", d.finding.title},
                        {"file", d.finding.file},
                        {"start_line", d.finding.start_line},
                        {"end_line", d.finding.end_line},
                        {"reason", d.reason}});
    }
    return list;
}

}  // namespace

std::string fingerprint(const Finding& f) {
    std::uint64_t h = fnv1a(f.category);
    h = fnv1a(std::string_view("\0", 1), h);
    h = fnv1a(f.file, h);
    h = fnv1a(std::string_view("\0", 1), h);
    h = fnv1a(normalise_words(f.title), h);
    h = fnv1a(std::string_view("\0", 1), h);
    h = fnv1a(normalise_code(f.code), h);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::string render_markdown(const ReviewReport& r) {
    std::ostringstream out;
    out << "# Osprey review: " << r.verdict << "\n\n";
    out << "- Reviewed: " << r.target << "\n";
    out << "- Findings: " << r.findings.size() << "\n";
    out << "- Dropped as invalid: " << r.dropped.size() << "\n";
    if (r.below_min_severity > 0) {
        out << "- Below --min-severity (not shown): " << r.below_min_severity << "\n";
    }
    out << "\n## Summary\n\n" << (r.summary.empty() ? "(no summary)" : r.summary) << "\n";
    if (!r.findings.empty()) {
        out << "\n## Findings\n";
        std::size_t n = 0;
        for (const auto& f : r.findings) {
            out << "\n### " << ++n << ". [" << upper(to_string(f.severity)) << "] " << f.title
                << "\n\n";
            char conf[16];
            std::snprintf(conf, sizeof conf, "%.2f", f.confidence);
            out << "`" << f.file << ":" << lines_of(f) << "` · " << f.category << " · confidence "
                << conf << "\n\n";
            if (!f.body.empty()) {
                out << f.body << "\n\n";
            }
            if (!f.code.empty()) {
                const std::string fence = fence_for(f.code);
                out << fence << "\n" << f.code << fence << "\n\n";
            }
            if (f.suggestion) {
                const std::string fence = fence_for(*f.suggestion);
                out << "Suggestion:\n\n"
                    << fence << "\n"
                    << *f.suggestion << (f.suggestion->ends_with('\n') ? "" : "\n") << fence
                    << "\n\n";
            }
        }
    }
    if (!r.dropped.empty()) {
        out << "\n## Dropped findings (" << r.dropped.size() << ")\n\n";
        for (const auto& d : r.dropped) {
            out << "- " << d.finding.title << " (`" << d.finding.file << ":" << lines_of(d.finding)
                << "`): " << d.reason << "\n";
        }
    }
    return out.str();
}

json render_json(const ReviewReport& r) {
    json findings = json::array();
    for (const auto& f : r.findings) {
        findings.push_back(to_json(f));
    }
    return {{"summary", r.summary},
            {"verdict", r.verdict},
            {"findings", findings},
            {"dropped_count", r.dropped.size()},
            {"dropped", dropped_json(r.dropped)},
            {"below_min_severity", r.below_min_severity},
            {"target", r.target},
            {"revision", r.revision.empty() ? json(nullptr) : json(r.revision)},
            {"model", r.model}};
}

json render_sarif(const ReviewReport& r, const std::string& tool_version) {
    json rules = json::array();
    for (const auto& c : categories()) {
        rules.push_back({{"id", c},
                         {"name", rule_name(c)},
                         {"shortDescription", {{"text", rule_text(c)}}},
                         {"fullDescription", {{"text", rule_text(c) + " (Osprey review)."}}},
                         {"defaultConfiguration", {{"level", "warning"}}},
                         {"properties", {{"tags", json::array({c})}}}});
    }
    json results = json::array();
    for (const auto& f : r.findings) {
        std::size_t rule_index = 0;
        while (rule_index < categories().size() && categories()[rule_index] != f.category) {
            ++rule_index;
        }
        std::string message = f.title;
        if (!f.body.empty()) {
            message += "\n\n" + f.body;
        }
        json properties = {{"severity", std::string(to_string(f.severity))},
                           {"confidence", f.confidence},
                           {"title", f.title}};
        if (f.suggestion) {
            properties["suggestion"] = *f.suggestion;
        }
        results.push_back(
            {{"ruleId", f.category},
             {"ruleIndex", rule_index},
             {"level", level_of(f.severity)},
             {"message", {{"text", message}}},
             {"locations",
              json::array(
                  {{{"physicalLocation",
                     {{"artifactLocation", {{"uri", f.file}, {"uriBaseId", "%SRCROOT%"}}},
                      {"region", {{"startLine", f.start_line}, {"endLine", f.end_line}}}}}}})},
             {"partialFingerprints", {{"ospreyFindingHash/v1", fingerprint(f)}}},
             {"properties", properties}});
    }
    json notifications = json::array();
    for (const auto& d : r.dropped) {
        notifications.push_back(
            {{"level", "warning"},
             {"message",
              {{"text", "dropped an invalid finding '" + d.finding.title + "' (" + d.finding.file +
                            ":" + lines_of(d.finding) + "): " + d.reason}}}});
    }
    json run = {
        {"tool",
         {{"driver", {{"name", "osprey-review"}, {"version", tool_version}, {"rules", rules}}}}},
        {"invocations", json::array({{{"executionSuccessful", true},
                                      {"toolExecutionNotifications", notifications}}})},
        {"results", results},
        {"properties",
         {{"verdict", r.verdict},
          {"summary", r.summary},
          {"target", r.target},
          {"droppedFindings", r.dropped.size()},
          {"belowMinSeverity", r.below_min_severity}}}};
    if (!r.revision.empty()) {
        run["properties"]["revision"] = r.revision;
    }
    return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
            {"version", "2.1.0"},
            {"runs", json::array({run})}};
}

}  // namespace osprey::agent::review
