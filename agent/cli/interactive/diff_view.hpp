#pragma once
// Diffs for the terminal: what an edit did to a file, as a unified diff (libgit2's
// git_diff_buffers), coloured and cut to a few lines.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::agent::interactive {

struct DiffLine {
    char origin = ' ';  // ' ' context, '+' added, '-' removed, '@' hunk header
    std::string text;   // without the newline
};

// The unified diff of `before` -> `after` (3 lines of context). Empty when they are equal.
std::vector<DiffLine> diff_lines(std::string_view before, std::string_view after);

// The diff as terminal lines: a header (`path  +A -R`), then at most `max_lines` lines, coloured
// when `color` (green added, red removed, cyan hunk headers), then "… N more lines".
std::string render_diff(const std::string& path, const std::vector<DiffLine>& lines,
                        std::size_t max_lines, bool color);

// Paths an apply_patch patch touches ("*** Add/Update/Delete File:" and "*** Move to:").
std::vector<std::string> patch_paths(std::string_view patch);

}  // namespace osprey::agent::interactive
