#pragma once
// The environment a sandboxed command sees: only allowlisted variables, and never one that looks
// like a credential, whatever the allowlist says.

#include <string>
#include <string_view>
#include <vector>

namespace osprey::sandbox {

struct EnvironmentPolicy {
    // Names passed through when set (exact match). Defaults: what shells and build tools need.
    std::vector<std::string> allow = {"PATH",   "HOME", "LANG",    "LC_ALL",  "LC_CTYPE",
                                      "TERM",   "TZ",   "USER",    "LOGNAME", "SHELL",
                                      "TMPDIR", "PWD",  "COLUMNS", "LINES",   "NO_COLOR"};
    // Extra names the user allows (still subject to the credential rule).
    std::vector<std::string> extra_allow;
};

// True for names like AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, OPENAI_API_KEY, DB_PASSWORD: anything
// ending in _KEY, _TOKEN or _SECRET, or containing PASSWORD / PASSWD / CREDENTIAL
// (case-insensitive).
bool looks_like_credential(std::string_view name);

// Filters "NAME=value" entries (as in environ). Entries without '=' are dropped.
std::vector<std::string> scrub_environment(const std::vector<std::string>& environment,
                                           const EnvironmentPolicy& policy);

}  // namespace osprey::sandbox
