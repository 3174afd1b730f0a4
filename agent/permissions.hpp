#pragma once
// Whether the agent may run a tool call: a mode (read-only, ask, auto, full) plus user rules by
// tool and argument pattern, e.g. `--allow 'shell(make *)'`, `--deny 'shell(git push*)'`. Every
// denial carries a reason the model is shown and tells the user how to allow it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::agent {

enum class PermissionMode { read_only, ask, automatic, full };

// "read-only", "ask", "auto", "full"; throws std::invalid_argument naming the text otherwise.
PermissionMode parse_permission_mode(std::string_view text);
std::string_view to_string(PermissionMode mode);

// What a tool does to the world (tools declare one each).
enum class ToolAccess { read, write, execute };

struct PermissionRule {
    bool allow = true;
    std::string tool;     // "shell"
    std::string pattern;  // glob over the call's subject ("make *"); "*" = any
    std::string text;     // as the user wrote it, for messages
};

// "TOOL" or "TOOL(PATTERN)"; throws std::invalid_argument with what is wrong.
PermissionRule parse_permission_rule(std::string_view text, bool allow);

enum class Decision { allow, deny, ask };

struct PermissionVerdict {
    Decision decision = Decision::deny;
    std::string reason;  // for deny: why, and how to allow it
};

class PermissionPolicy {
public:
    explicit PermissionPolicy(PermissionMode mode, std::vector<PermissionRule> rules = {});

    // `subject` is what the rule patterns match: the command for shell, the path for file tools.
    PermissionVerdict check(std::string_view tool, ToolAccess access,
                            std::string_view subject) const;
    // The user answered "always" to an ask: allow this tool for subjects matching `pattern`.
    void allow_always(std::string tool, std::string pattern);
    PermissionMode mode() const { return mode_; }

private:
    PermissionMode mode_;
    std::vector<PermissionRule> rules_;
};

// Glob match where '*' matches any run of characters (including '/') and '?' one character.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace osprey::agent
