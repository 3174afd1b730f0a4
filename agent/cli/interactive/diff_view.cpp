#include "agent/cli/interactive/diff_view.hpp"

#include <git2.h>

#include <stdexcept>

#include "agent/cli/interactive/style.hpp"

namespace osprey::agent::interactive {
namespace {

// libgit2's global state, initialised for as long as a diff is being made.
struct Libgit2 {
    Libgit2() { git_libgit2_init(); }
    ~Libgit2() { git_libgit2_shutdown(); }
    Libgit2(const Libgit2&) = delete;
    Libgit2& operator=(const Libgit2&) = delete;
};

int on_hunk(const git_diff_delta*, const git_diff_hunk* hunk, void* payload) {
    auto& lines = *static_cast<std::vector<DiffLine>*>(payload);
    std::string header(hunk->header, hunk->header_len);
    while (!header.empty() && header.back() == '\n') {
        header.pop_back();
    }
    lines.push_back({'@', header});
    return 0;
}

int on_line(const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line, void* payload) {
    auto& lines = *static_cast<std::vector<DiffLine>*>(payload);
    if (line->origin != GIT_DIFF_LINE_CONTEXT && line->origin != GIT_DIFF_LINE_ADDITION &&
        line->origin != GIT_DIFF_LINE_DELETION) {
        return 0;  // "\ No newline at end of file" markers and file headers
    }
    std::string text(line->content, line->content_len);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
    }
    lines.push_back({line->origin, std::move(text)});
    return 0;
}

}  // namespace

std::vector<DiffLine> diff_lines(std::string_view before, std::string_view after) {
    std::vector<DiffLine> lines;
    if (before == after) {
        return lines;
    }
    Libgit2 library;
    git_diff_options options;
    git_diff_options_init(&options, GIT_DIFF_OPTIONS_VERSION);
    options.context_lines = 3;
    options.flags |= GIT_DIFF_FORCE_TEXT;
    if (git_diff_buffers(before.data(), before.size(), "a", after.data(), after.size(), "b",
                         &options, nullptr, nullptr, on_hunk, on_line, &lines) != 0) {
        const git_error* e = git_error_last();
        throw std::runtime_error(std::string("cannot diff: ") +
                                 (e != nullptr ? e->message : "libgit2 failed"));
    }
    return lines;
}

std::string render_diff(const std::string& path, const std::vector<DiffLine>& lines,
                        std::size_t max_lines, bool color) {
    std::size_t added = 0;
    std::size_t removed = 0;
    for (const auto& l : lines) {
        added += l.origin == '+' ? 1 : 0;
        removed += l.origin == '-' ? 1 : 0;
    }
    const Style s(color);
    std::string out = "    " + s.bold(path) + "  " + s.green("+" + std::to_string(added)) + " " +
                      s.red("-" + std::to_string(removed)) + "\n";
    std::size_t shown = 0;
    for (const auto& l : lines) {
        if (shown == max_lines) {
            out +=
                "    " + s.dim("… " + std::to_string(lines.size() - shown) + " more lines") + "\n";
            break;
        }
        ++shown;
        if (l.origin == '@') {
            out += "    " + s.cyan(l.text) + "\n";
        } else if (l.origin == '+') {
            out += "    " + s.green("+" + l.text) + "\n";
        } else if (l.origin == '-') {
            out += "    " + s.red("-" + l.text) + "\n";
        } else {
            out += "    " + s.dim(" " + l.text) + "\n";
        }
    }
    return out;
}

std::vector<std::string> patch_paths(std::string_view patch) {
    std::vector<std::string> paths;
    std::size_t pos = 0;
    while (pos < patch.size()) {
        std::size_t end = patch.find('\n', pos);
        if (end == std::string_view::npos) {
            end = patch.size();
        }
        std::string_view line = patch.substr(pos, end - pos);
        pos = end + 1;
        for (std::string_view prefix :
             {"*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: "}) {
            if (line.substr(0, prefix.size()) == prefix) {
                std::string p(line.substr(prefix.size()));
                while (!p.empty() && (p.back() == ' ' || p.back() == '\r')) {
                    p.pop_back();
                }
                if (!p.empty()) {
                    paths.push_back(std::move(p));
                }
            }
        }
    }
    return paths;
}

}  // namespace osprey::agent::interactive
