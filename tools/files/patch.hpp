#pragma once
// apply_patch: a multi-file patch in the envelope format coding models know:
//   *** Begin Patch
//   *** Add File: path        (+ lines follow)
//   *** Delete File: path
//   *** Update File: path     (optionally *** Move to: new/path, then @@ hunks of ' ', '-', '+'
//                              lines; "@@ text" names a line to anchor on; *** End of File pins a
//                              hunk to the end)
//   *** End Patch
// Everything is checked and computed before anything is written; a failure while writing rolls back
// what was already written, so the patch lands whole or not at all.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/core/workspace.hpp"

namespace osprey::tools {

struct PatchChange {
    std::string action;  // "added", "deleted", "updated", "moved"
    std::string path;
    std::string moved_to;
};

struct PatchOutcome {
    std::vector<PatchChange> changes;
};

// Throws ToolError naming the file and hunk at fault; nothing is changed then.
// `before_change`, when set, is called with every file the patch will touch, after the whole
// patch has been checked and before anything changes.
PatchOutcome apply_patch(
    const Workspace& ws, std::string_view patch,
    const std::function<void(const std::filesystem::path&)>& before_change = {});

}  // namespace osprey::tools
