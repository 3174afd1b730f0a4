#pragma once
// The workspace root every tool path is resolved in. Resolution follows symbolic links one
// component at a time (like realpath, but a missing tail is allowed so new files can be named) and
// refuses any path whose real location is outside the root: `../x`, absolute paths elsewhere, and
// links (dangling or not) that point out of the root.

#include <filesystem>
#include <string>
#include <string_view>

#include "tools/core/tool_error.hpp"

namespace osprey::tools {

class Workspace {
public:
    // Throws ToolError when `root` is not an existing directory.
    explicit Workspace(const std::filesystem::path& root);

    const std::filesystem::path& root() const { return root_; }  // canonical

    // The real absolute location of `user_path` (relative to the root, or absolute inside it).
    // Throws ToolError naming the path when it escapes the root or is empty.
    std::filesystem::path resolve(std::string_view user_path) const;
    // `absolute` (already resolved) relative to the root, "." for the root itself, '/' separated.
    std::string relative(const std::filesystem::path& absolute) const;
    bool contains(const std::filesystem::path& absolute) const;

private:
    std::filesystem::path root_;
};

}  // namespace osprey::tools
