#include "agent/review/check.hpp"

#include <algorithm>
#include <map>

#include "tools/core/glob.hpp"

namespace osprey::agent::review {
namespace {

std::vector<std::string_view> split_lines(const std::string& text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        const std::size_t end = nl == std::string::npos ? text.size() : nl;
        lines.emplace_back(text.data() + start, end - start);
        start = end + 1;
    }
    return lines;
}

std::string normalise_path(std::string file, const std::filesystem::path& root) {
    const std::string prefix = root.string() + "/";
    if (file.rfind(prefix, 0) == 0) {
        file = file.substr(prefix.size());
    }
    while (file.rfind("./", 0) == 0) {
        file = file.substr(2);
    }
    return file;
}

std::string range_text(std::int64_t a, std::int64_t b) {
    return a == b ? std::to_string(a) : std::to_string(a) + "-" + std::to_string(b);
}

}  // namespace

bool in_paths(const std::vector<std::string>& globs, const std::string& path) {
    if (globs.empty()) {
        return true;
    }
    return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
        return tools::glob_match(g, path) ||
               (!g.empty() && g.back() == '/' && path.rfind(g, 0) == 0);
    });
}

CheckedFindings check_findings(std::vector<Finding> findings, const ReviewScope& scope) {
    CheckedFindings out;
    std::map<std::string, const tools::ChangedFile*> changed;
    if (scope.changes) {
        for (const auto& f : *scope.changes) {
            changed[f.path] = &f;
        }
    }
    std::map<std::string, std::optional<std::string>> contents;
    for (Finding& f : findings) {
        auto drop = [&](std::string reason) { out.dropped.push_back({f, std::move(reason)}); };
        f.file = normalise_path(f.file, scope.root);
        if (!in_paths(scope.path_globs, f.file)) {
            drop("outside --paths");
            continue;
        }
        auto it = contents.find(f.file);
        if (it == contents.end()) {
            it = contents.emplace(f.file, tools::file_at(scope.root, scope.revision, f.file)).first;
        }
        if (!it->second) {
            drop("no file '" + f.file + "' in the reviewed revision");
            continue;
        }
        const auto lines = split_lines(*it->second);
        const auto count = static_cast<std::int64_t>(lines.size());
        if (f.end_line < f.start_line) {
            std::swap(f.start_line, f.end_line);
        }
        if (f.start_line < 1 || f.start_line > count) {
            drop("line " + std::to_string(f.start_line) + " is not in " + f.file + " (" +
                 std::to_string(count) + " lines)");
            continue;
        }
        f.end_line = std::min(f.end_line, count);
        if (scope.changes) {
            const auto c = changed.find(f.file);
            if (c == changed.end() || c->second->status == "deleted") {
                drop(f.file + " is not part of the change");
                continue;
            }
            std::int64_t lo = 0, hi = 0;
            for (const auto& r : c->second->lines) {
                const std::int64_t a = std::max(r.start, f.start_line);
                const std::int64_t b = std::min(r.end, f.end_line);
                if (a <= b) {
                    lo = lo == 0 ? a : std::min(lo, a);
                    hi = std::max(hi, b);
                }
            }
            if (lo == 0) {
                drop("lines " + range_text(f.start_line, f.end_line) + " of " + f.file +
                     " are outside the change");
                continue;
            }
            f.start_line = lo;
            f.end_line = hi;
        }
        f.code.clear();
        for (std::int64_t n = f.start_line; n <= f.end_line; ++n) {
            f.code += lines[static_cast<std::size_t>(n - 1)];
            f.code += '\n';
        }
        out.kept.push_back(std::move(f));
    }
    return out;
}

}  // namespace osprey::agent::review
