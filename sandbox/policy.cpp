#include "sandbox/policy.hpp"

#include <algorithm>

namespace osprey::sandbox {

std::string_view to_string(Mode mode) {
    switch (mode) {
        case Mode::read_only:
            return "read-only";
        case Mode::workspace_write:
            return "workspace-write";
        case Mode::full:
            return "full";
    }
    return "?";
}

std::optional<Mode> parse_mode(std::string_view name) {
    for (const Mode m : {Mode::read_only, Mode::workspace_write, Mode::full}) {
        if (to_string(m) == name) {
            return m;
        }
    }
    return std::nullopt;
}

std::string_view to_string(Requirement requirement) {
    switch (requirement) {
        case Requirement::net:
            return "net";
        case Requirement::fs:
            return "fs";
        case Requirement::seccomp:
            return "seccomp";
        case Requirement::pid:
            return "pid";
    }
    return "?";
}

std::optional<Requirement> parse_requirement(std::string_view name) {
    for (const Requirement r :
         {Requirement::net, Requirement::fs, Requirement::seccomp, Requirement::pid}) {
        if (to_string(r) == name) {
            return r;
        }
    }
    return std::nullopt;
}

bool Policy::demands(Requirement r) const {
    return std::find(require.begin(), require.end(), r) != require.end();
}

std::vector<std::filesystem::path> default_hidden_paths(const std::filesystem::path& home) {
    std::vector<std::filesystem::path> out;
    for (const char* rel :
         {".ssh", ".aws", ".config/gcloud", ".netrc", ".gnupg", ".docker/config.json", ".kube",
          ".git-credentials", ".npmrc", ".pypirc", ".config/osprey/secrets"}) {
        out.push_back(home / rel);
    }
    return out;
}

std::vector<std::filesystem::path> default_read_only_paths(const std::filesystem::path& workspace) {
    return {workspace / ".git", workspace / ".osprey"};
}

}  // namespace osprey::sandbox
