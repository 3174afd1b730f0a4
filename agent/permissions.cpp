#include "agent/permissions.hpp"

#include <stdexcept>

namespace osprey::agent {
namespace {

std::string_view access_name(ToolAccess access) {
    switch (access) {
        case ToolAccess::read:
            return "reads";
        case ToolAccess::write:
            return "writes files";
        case ToolAccess::execute:
            return "runs commands";
    }
    return "acts";
}

bool matches(const PermissionRule& rule, std::string_view tool, std::string_view subject) {
    return rule.tool == tool && glob_match(rule.pattern, subject);
}

}  // namespace

PermissionMode parse_permission_mode(std::string_view text) {
    if (text == "read-only") {
        return PermissionMode::read_only;
    }
    if (text == "ask") {
        return PermissionMode::ask;
    }
    if (text == "auto") {
        return PermissionMode::automatic;
    }
    if (text == "full") {
        return PermissionMode::full;
    }
    throw std::invalid_argument("unknown permission mode '" + std::string(text) +
                                "': expected read-only, ask, auto or full");
}

std::string_view to_string(PermissionMode mode) {
    switch (mode) {
        case PermissionMode::read_only:
            return "read-only";
        case PermissionMode::ask:
            return "ask";
        case PermissionMode::automatic:
            return "auto";
        case PermissionMode::full:
            return "full";
    }
    return "read-only";
}

PermissionRule parse_permission_rule(std::string_view text, bool allow) {
    PermissionRule rule;
    rule.allow = allow;
    rule.text = std::string(text);
    const auto open = text.find('(');
    if (open == std::string_view::npos) {
        rule.tool = std::string(text);
        rule.pattern = "*";
    } else {
        if (text.back() != ')') {
            throw std::invalid_argument("permission rule '" + std::string(text) +
                                        "' must end with ')': write TOOL or TOOL(PATTERN)");
        }
        rule.tool = std::string(text.substr(0, open));
        rule.pattern = std::string(text.substr(open + 1, text.size() - open - 2));
        if (rule.pattern.empty()) {
            throw std::invalid_argument("permission rule '" + std::string(text) +
                                        "' has an empty pattern: use TOOL alone for any call");
        }
    }
    if (rule.tool.empty() || rule.tool.find_first_of(" ()*") != std::string::npos) {
        throw std::invalid_argument(
            "permission rule '" + std::string(text) +
            "' does not start with a tool name: write TOOL or TOOL(PATTERN)");
    }
    return rule;
}

PermissionPolicy::PermissionPolicy(PermissionMode mode, std::vector<PermissionRule> rules)
    : mode_(mode), rules_(std::move(rules)) {}

PermissionVerdict PermissionPolicy::check(std::string_view tool, ToolAccess access,
                                          std::string_view subject) const {
    for (const auto& rule : rules_) {
        if (!rule.allow && matches(rule, tool, subject)) {
            return {Decision::deny, "denied by the rule --deny '" + rule.text + "'"};
        }
    }
    for (const auto& rule : rules_) {
        if (rule.allow && matches(rule, tool, subject)) {
            return {Decision::allow, {}};
        }
    }
    if (access == ToolAccess::read || mode_ == PermissionMode::full) {
        return {Decision::allow, {}};
    }
    switch (mode_) {
        case PermissionMode::automatic:
            return {Decision::allow, {}};
        case PermissionMode::ask:
            return {Decision::ask, {}};
        default:
            break;
    }
    return {Decision::deny, "'" + std::string(tool) + "' " + std::string(access_name(access)) +
                                " and this session is read-only; the user can allow it with "
                                "--permission auto or --allow '" +
                                std::string(tool) + "(PATTERN)'"};
}

void PermissionPolicy::allow_always(std::string tool, std::string pattern) {
    PermissionRule rule;
    rule.text = tool + "(" + pattern + ")";
    rule.tool = std::move(tool);
    rule.pattern = std::move(pattern);
    rules_.push_back(std::move(rule));
}

bool glob_match(std::string_view pattern, std::string_view text) {
    // Iterative matcher with single-star backtracking: linear for the patterns users write.
    std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

}  // namespace osprey::agent
