#include "tools/files/patch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "tools/core/file_io.hpp"
#include "tools/core/tool_error.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;

namespace {

struct Hunk {
    std::string anchor;  // text after "@@ ", may be empty
    std::vector<std::string> old_lines;
    std::vector<std::string> new_lines;
    bool at_end = false;
};

struct FileOp {
    enum Kind { add, remove, update } kind = add;
    std::string path;
    std::string move_to;
    std::vector<std::string> added;  // for add
    std::vector<Hunk> hunks;         // for update
};

std::vector<std::string> split(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            if (pos < text.size())
                lines.emplace_back(text.substr(pos));
            break;
        }
        std::string line(text.substr(pos, end - pos));
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        lines.push_back(std::move(line));
        pos = end + 1;
    }
    return lines;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(" \t\r");
    return std::string(s.substr(b, e - b + 1));
}

std::vector<FileOp> parse(std::string_view patch) {
    const auto lines = split(patch);
    std::size_t i = 0;
    while (i < lines.size() && trim(lines[i]).empty())
        ++i;
    if (i == lines.size())
        throw ToolError("the patch is empty");
    if (trim(lines[i]) == "*** Begin Patch")
        ++i;
    std::vector<FileOp> ops;
    bool ended = false;
    while (i < lines.size()) {
        const std::string& line = lines[i];
        const std::string line_no = "patch line " + std::to_string(i + 1);
        if (trim(line) == "*** End Patch") {
            ended = true;
            break;
        }
        if (trim(line).empty()) {
            ++i;
            continue;
        }
        FileOp op;
        if (starts_with(line, "*** Add File: ")) {
            op.kind = FileOp::add;
            op.path = trim(line.substr(14));
            ++i;
            while (i < lines.size() && !starts_with(lines[i], "*** ")) {
                if (!starts_with(lines[i], "+")) {
                    throw ToolError("patch line " + std::to_string(i + 1) + ": in Add File " +
                                    op.path + ", every line must start with '+'");
                }
                op.added.push_back(lines[i].substr(1));
                ++i;
            }
        } else if (starts_with(line, "*** Delete File: ")) {
            op.kind = FileOp::remove;
            op.path = trim(line.substr(17));
            ++i;
        } else if (starts_with(line, "*** Update File: ")) {
            op.kind = FileOp::update;
            op.path = trim(line.substr(17));
            ++i;
            if (i < lines.size() && starts_with(lines[i], "*** Move to: ")) {
                op.move_to = trim(lines[i].substr(13));
                ++i;
            }
            std::optional<Hunk> hunk;
            while (i < lines.size()) {
                const std::string& l = lines[i];
                if (starts_with(l, "*** End of File")) {
                    if (hunk)
                        hunk->at_end = true;
                    ++i;
                    continue;
                }
                if (starts_with(l, "*** "))
                    break;
                if (starts_with(l, "@@")) {
                    if (hunk)
                        op.hunks.push_back(std::move(*hunk));
                    hunk = Hunk{};
                    hunk->anchor = trim(l.substr(2));
                    // "@@ -1,3 +1,4 @@" from unified diffs carries no usable anchor.
                    if (starts_with(hunk->anchor, "-") &&
                        hunk->anchor.find("@@") != std::string::npos) {
                        const auto end = hunk->anchor.find("@@");
                        hunk->anchor = trim(hunk->anchor.substr(end + 2));
                    }
                    ++i;
                    continue;
                }
                if (!hunk)
                    hunk = Hunk{};
                const char tag = l.empty() ? ' ' : l[0];
                const std::string body = l.empty() ? std::string() : l.substr(1);
                if (tag == ' ') {
                    hunk->old_lines.push_back(body);
                    hunk->new_lines.push_back(body);
                } else if (tag == '-') {
                    hunk->old_lines.push_back(body);
                } else if (tag == '+') {
                    hunk->new_lines.push_back(body);
                } else {
                    throw ToolError("patch line " + std::to_string(i + 1) + " in Update File " +
                                    op.path +
                                    ": a hunk line must start with ' ', '-' or '+', got: " + l);
                }
                ++i;
            }
            if (hunk)
                op.hunks.push_back(std::move(*hunk));
            if (op.hunks.empty() && op.move_to.empty()) {
                throw ToolError("Update File " + op.path + " has no hunks");
            }
        } else {
            throw ToolError(line_no +
                            ": expected '*** Add File: ', '*** Delete File: ', '*** Update File: ' "
                            "or '*** End Patch', got: " +
                            line);
        }
        if (op.path.empty())
            throw ToolError(line_no + ": the file path is empty");
        ops.push_back(std::move(op));
    }
    if (!ended)
        throw ToolError("the patch has no '*** End Patch' line (was it cut off?)");
    if (ops.empty())
        throw ToolError("the patch changes no files");
    return ops;
}

// Finds `needle` in `hay` at or after `from`: exactly, then ignoring trailing whitespace, then
// ignoring all surrounding whitespace.
std::optional<std::size_t> find_lines(const std::vector<std::string>& hay,
                                      const std::vector<std::string>& needle, std::size_t from,
                                      bool at_end) {
    if (needle.empty())
        return at_end ? hay.size() : std::min(from, hay.size());
    if (needle.size() > hay.size())
        return std::nullopt;
    const std::function<std::string(const std::string&)> passes[] = {
        [](const std::string& s) { return s; },
        [](const std::string& s) {
            const auto e = s.find_last_not_of(" \t\r");
            return e == std::string::npos ? std::string() : s.substr(0, e + 1);
        },
        [](const std::string& s) { return trim(s); }};
    for (const auto& norm : passes) {
        const std::size_t last = hay.size() - needle.size();
        const std::size_t first = at_end ? last : from;
        for (std::size_t pos = first; pos <= last; ++pos) {
            bool ok = true;
            for (std::size_t k = 0; k < needle.size() && ok; ++k) {
                ok = norm(hay[pos + k]) == norm(needle[k]);
            }
            if (ok)
                return pos;
        }
    }
    return std::nullopt;
}

std::string join(const std::vector<std::string>& lines, bool final_newline) {
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        out += lines[i];
        if (i + 1 < lines.size() || final_newline)
            out += '\n';
    }
    return out;
}

std::string apply_hunks(const std::string& rel, const std::string& content,
                        const std::vector<Hunk>& hunks) {
    std::vector<std::string> lines = split(content);
    const bool final_newline = content.empty() || content.back() == '\n';
    std::size_t cursor = 0;
    for (std::size_t h = 0; h < hunks.size(); ++h) {
        const Hunk& hunk = hunks[h];
        const std::string where = "Update File " + rel + ", hunk " + std::to_string(h + 1);
        if (!hunk.anchor.empty()) {
            auto at = find_lines(lines, {hunk.anchor}, cursor, false);
            if (!at) {
                throw ToolError(where + ": the anchor line '@@ " + hunk.anchor +
                                "' was not found (after line " + std::to_string(cursor) + ")");
            }
            cursor = *at + 1;
        }
        auto at = find_lines(lines, hunk.old_lines, cursor, hunk.at_end);
        if (!at && hunk.anchor.empty())
            at = find_lines(lines, hunk.old_lines, 0, hunk.at_end);
        if (!at) {
            std::string shown;
            for (std::size_t k = 0; k < std::min<std::size_t>(hunk.old_lines.size(), 8); ++k) {
                shown += "  " + hunk.old_lines[k] + "\n";
            }
            throw ToolError(where + ": these lines were not found in the file:\n" + shown +
                            "Read the file again and copy the context lines exactly.");
        }
        lines.erase(lines.begin() + static_cast<long>(*at),
                    lines.begin() + static_cast<long>(*at + hunk.old_lines.size()));
        lines.insert(lines.begin() + static_cast<long>(*at), hunk.new_lines.begin(),
                     hunk.new_lines.end());
        cursor = *at + hunk.new_lines.size();
    }
    return join(lines, final_newline);
}

// One step of the write phase, with what undoing it needs.
struct Step {
    fs::path target;
    std::optional<std::string> new_content;  // nullopt: delete target
    std::optional<std::string> old_content;  // nullopt: target did not exist
    mode_t old_mode = 0;
};

void restore(const Step& step) {
    std::error_code ec;
    if (step.old_content) {
        try {
            write_file_atomic(step.target, *step.old_content);
            fs::permissions(step.target, static_cast<fs::perms>(step.old_mode & 07777), ec);
        } catch (const ToolError&) {
        }
    } else {
        fs::remove(step.target, ec);
    }
}

}  // namespace

PatchOutcome apply_patch(const Workspace& ws, std::string_view patch,
                         const std::function<void(const std::filesystem::path&)>& before_change) {
    const std::vector<FileOp> ops = parse(patch);
    std::vector<Step> steps;
    PatchOutcome outcome;
    std::set<fs::path> touched;
    auto claim = [&](const fs::path& p, const std::string& name) {
        if (!touched.insert(p).second) {
            throw ToolError("the patch touches " + name + " more than once");
        }
    };
    auto snapshot = [](const fs::path& p, Step& step) {
        step.old_content = read_file(p);
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0)
            step.old_mode = st.st_mode;
    };
    for (const auto& op : ops) {
        const fs::path path = ws.resolve(op.path);
        const std::string rel = ws.relative(path);
        claim(path, rel);
        if (op.kind == FileOp::add) {
            if (fs::exists(path)) {
                throw ToolError("Add File " + rel + ": the file already exists (use Update File)");
            }
            steps.push_back({path, join(op.added, true), std::nullopt, 0});
            outcome.changes.push_back({"added", rel, ""});
            continue;
        }
        if (!fs::is_regular_file(path)) {
            throw ToolError((op.kind == FileOp::remove ? "Delete File " : "Update File ") + rel +
                            ": no such file");
        }
        Step step{path, std::nullopt, std::nullopt, 0};
        snapshot(path, step);
        if (op.kind == FileOp::remove) {
            steps.push_back(std::move(step));
            outcome.changes.push_back({"deleted", rel, ""});
            continue;
        }
        const std::string updated = apply_hunks(rel, *step.old_content, op.hunks);
        if (op.move_to.empty()) {
            step.new_content = updated;
            steps.push_back(std::move(step));
            outcome.changes.push_back({"updated", rel, ""});
            continue;
        }
        const fs::path dest = ws.resolve(op.move_to);
        const std::string dest_rel = ws.relative(dest);
        claim(dest, dest_rel);
        if (fs::exists(dest)) {
            throw ToolError("Move to " + dest_rel + ": the destination already exists");
        }
        Step create{dest, updated, std::nullopt, step.old_mode};
        steps.push_back(std::move(create));
        steps.push_back(std::move(step));  // delete the source after the copy landed
        outcome.changes.push_back({"moved", rel, dest_rel});
    }
    if (before_change) {
        for (const Step& step : steps) {
            before_change(step.target);
        }
    }
    std::size_t done = 0;
    try {
        for (; done < steps.size(); ++done) {
            const Step& step = steps[done];
            if (step.new_content) {
                write_file_atomic(step.target, *step.new_content);
                if (!step.old_content && step.old_mode != 0) {  // a moved file keeps its mode
                    fs::permissions(step.target, static_cast<fs::perms>(step.old_mode & 07777));
                }
            } else if (!fs::remove(step.target)) {
                throw ToolError("cannot delete " + step.target.string());
            }
        }
    } catch (const std::exception& e) {
        for (std::size_t k = done + 1; k-- > 0;) {
            if (k < steps.size())
                restore(steps[k]);
        }
        throw ToolError(std::string("applying the patch failed, nothing was changed: ") + e.what());
    }
    return outcome;
}

}  // namespace osprey::tools
