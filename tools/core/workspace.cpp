#include "tools/core/workspace.hpp"

#include <deque>
#include <system_error>

namespace osprey::tools {
namespace fs = std::filesystem;

namespace {
constexpr int kMaxLinkHops = 40;  // as the kernel's ELOOP limit
}

Workspace::Workspace(const fs::path& root) {
    std::error_code ec;
    fs::path canonical = fs::canonical(root, ec);
    if (ec || !fs::is_directory(canonical)) {
        throw ToolError("workspace root " + root.string() + " is not an existing directory");
    }
    root_ = canonical;
}

bool Workspace::contains(const fs::path& absolute) const {
    auto r = root_.begin();
    auto a = absolute.begin();
    for (; r != root_.end(); ++r, ++a) {
        if (a == absolute.end() || *a != *r) {
            return false;
        }
    }
    return true;
}

std::string Workspace::relative(const fs::path& absolute) const {
    const fs::path rel = absolute.lexically_relative(root_);
    return rel.empty() ? std::string(".") : rel.generic_string();
}

fs::path Workspace::resolve(std::string_view user_path) const {
    if (user_path.empty()) {
        throw ToolError("empty path: give a path relative to the workspace root " + root_.string());
    }
    const fs::path input(user_path);
    std::deque<fs::path> pending;
    fs::path current;
    if (input.is_absolute()) {
        current = "/";
        for (const auto& part : input.relative_path())
            pending.push_back(part);
    } else {
        current = root_;
        for (const auto& part : input)
            pending.push_back(part);
    }
    int hops = 0;
    bool missing = false;  // once a component is missing, the rest cannot be links
    while (!pending.empty()) {
        const fs::path part = pending.front();
        pending.pop_front();
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            current = current.parent_path();
            continue;
        }
        fs::path next = current / part;
        if (!missing) {
            std::error_code ec;
            const auto status = fs::symlink_status(next, ec);
            if (!ec && fs::is_symlink(status)) {
                if (++hops > kMaxLinkHops) {
                    throw ToolError("path '" + std::string(user_path) +
                                    "': too many levels of symbolic links");
                }
                const fs::path target = fs::read_symlink(next, ec);
                if (ec) {
                    throw ToolError("path '" + std::string(user_path) +
                                    "': cannot read symbolic link " + next.string());
                }
                std::deque<fs::path> expanded;
                for (const auto& p : target.is_absolute() ? target.relative_path() : target) {
                    expanded.push_back(p);
                }
                if (target.is_absolute())
                    current = "/";
                pending.insert(pending.begin(), expanded.begin(), expanded.end());
                continue;
            }
            if (ec || !fs::exists(status))
                missing = true;
        }
        current = std::move(next);
    }
    if (!contains(current)) {
        throw ToolError("path '" + std::string(user_path) + "' resolves to " + current.string() +
                        ", outside the workspace root " + root_.string() +
                        " (tools only reach files inside it)");
    }
    return current;
}

}  // namespace osprey::tools
