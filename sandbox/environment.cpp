#include "sandbox/environment.hpp"

#include <algorithm>
#include <cctype>

namespace osprey::sandbox {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

bool looks_like_credential(std::string_view name) {
    const std::string n = upper(name);
    for (const std::string_view suffix : {"_KEY", "_TOKEN", "_SECRET", "_KEYS", "_TOKENS"}) {
        if (ends_with(n, suffix)) {
            return true;
        }
    }
    for (const std::string_view part : {"PASSWORD", "PASSWD", "CREDENTIAL", "SECRET"}) {
        if (n.find(part) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> scrub_environment(const std::vector<std::string>& environment,
                                           const EnvironmentPolicy& policy) {
    std::vector<std::string> out;
    for (const auto& entry : environment) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            continue;
        }
        const std::string_view name(entry.data(), eq);
        if (looks_like_credential(name)) {
            continue;
        }
        if (contains(policy.allow, name) || contains(policy.extra_allow, name)) {
            out.push_back(entry);
        }
    }
    return out;
}

}  // namespace osprey::sandbox
