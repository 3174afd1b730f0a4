#include "tools/files/file_tools.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "tools/core/file_io.hpp"
#include "tools/core/file_walker.hpp"
#include "tools/core/glob.hpp"
#include "tools/core/json_schema.hpp"
#include "tools/files/patch.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::int64_t kDefaultPageLines = 2000;
constexpr std::size_t kMaxLineChars = 2000;
constexpr std::size_t kMaxListEntries = 2000;
constexpr std::size_t kMaxGlobResults = 2000;

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        lines.push_back(line);
        pos = end + 1;
    }
    return lines;
}

std::string human_size(std::uintmax_t bytes) {
    char buf[32];
    if (bytes < 1024) {
        std::snprintf(buf, sizeof buf, "%ju B", bytes);
    } else if (bytes < 1024 * 1024) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    }
    return buf;
}

// Replaces each invalid UTF-8 sequence with U+FFFD so the text can travel as JSON.
std::string sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        const std::size_t bad = first_invalid_utf8(text);
        if (bad == std::string_view::npos) {
            out += text;
            break;
        }
        out += text.substr(0, bad);
        out += "\xEF\xBF\xBD";
        text.remove_prefix(bad + 1);
    }
    return out;
}

// ---- read ------------------------------------------------------------------------------------

ToolResult run_read(const json& args, ToolContext& ctx) {
    const std::string user_path = arg_string(args, "path");
    const fs::path path = ctx.workspace.resolve(user_path);
    if (fs::is_directory(path)) {
        throw ToolError(user_path + " is a directory: use the list tool to see its contents");
    }
    if (!fs::exists(path)) {
        throw ToolError("no such file: " + user_path);
    }
    const std::string content = read_file(path);
    const std::string rel = ctx.workspace.relative(path);
    ToolResult result;
    result.data = {{"path", rel}, {"size", content.size()}};
    if (looks_binary(content)) {
        result.data["binary"] = true;
        result.text = rel + ": binary file (" + human_size(content.size()) + "), not shown\n";
        return result;
    }
    const auto lines = split_lines(content);
    const auto total = static_cast<std::int64_t>(lines.size());
    const std::int64_t start = arg_int(args, "start_line", 1);
    if (total == 0) {
        result.data.update({{"total_lines", 0}, {"content", ""}});
        result.text = rel + ": empty file\n";
        return result;
    }
    if (start > total) {
        throw ToolError("start_line " + std::to_string(start) + " is past the end of " + rel +
                        " (" + std::to_string(total) + " lines)");
    }
    const std::int64_t requested_end = arg_int(args, "end_line", start + kDefaultPageLines - 1);
    if (requested_end < start) {
        throw ToolError("end_line " + std::to_string(requested_end) + " is before start_line " +
                        std::to_string(start));
    }
    // Pages are capped even when a caller asks for more: by lines, and by characters so the page
    // fits the output cap and ends with a precise "start_line=" to continue from.
    std::int64_t end = std::min({requested_end, total, start + kDefaultPageLines - 1});
    const std::size_t char_budget = ctx.max_output_chars > 512 ? ctx.max_output_chars - 512 : 256;
    std::string text;
    std::string raw;
    json encoding_errors = json::array();
    bool long_lines = false;
    for (std::int64_t n = start; n <= end; ++n) {
        const std::string_view line = lines[static_cast<std::size_t>(n - 1)];
        const std::size_t bad = first_invalid_utf8(line);
        if (bad != std::string_view::npos) {
            encoding_errors.push_back({{"line", n}, {"column", bad + 1}});
        }
        std::string shown = bad == std::string_view::npos ? std::string(line) : sanitize_utf8(line);
        raw += shown + "\n";
        if (shown.size() > kMaxLineChars) {
            shown.resize(kMaxLineChars);
            shown += " [line cut at " + std::to_string(kMaxLineChars) + " characters]";
            long_lines = true;
        }
        char num[24];
        std::snprintf(num, sizeof num, "%6lld\t", static_cast<long long>(n));
        if (n > start && text.size() + shown.size() + 8 > char_budget) {
            end = n - 1;
            break;
        }
        text += num + shown + "\n";
    }
    if (!encoding_errors.empty()) {
        const auto& first = encoding_errors.front();
        text += "[" + rel + " is not valid UTF-8: " + std::to_string(encoding_errors.size()) +
                " line(s) with invalid bytes, first at line " + first["line"].dump() + ", column " +
                first["column"].dump() + "; shown as U+FFFD]\n";
    }
    if (end < total && (!args.contains("end_line") || end < requested_end)) {
        text += "[lines " + std::to_string(start) + "-" + std::to_string(end) + " of " +
                std::to_string(total) + "; call read with start_line=" + std::to_string(end + 1) +
                " for more]\n";
    }
    result.data.update({{"total_lines", total},
                        {"start_line", start},
                        {"end_line", end},
                        {"content", raw},
                        {"long_lines_cut", long_lines},
                        {"encoding_errors", encoding_errors}});
    result.text = std::move(text);
    result.continuation_hint =
        "call read with path=\"" + rel + "\" and start_line/end_line to see a smaller range";
    return result;
}

// ---- write -----------------------------------------------------------------------------------

ToolResult run_write(const json& args, ToolContext& ctx) {
    const std::string user_path = arg_string(args, "path");
    const fs::path path = ctx.workspace.resolve(user_path);
    const std::string content = arg_string(args, "content");
    const bool existed = fs::exists(path);
    if (ctx.before_change) {
        ctx.before_change(path);
    }
    write_file_atomic(path, content);
    const std::string rel = ctx.workspace.relative(path);
    ToolResult result;
    result.data = {{"path", rel}, {"bytes", content.size()}, {"created", !existed}};
    result.text =
        (existed ? "wrote " : "created ") + rel + " (" + human_size(content.size()) + ")\n";
    return result;
}

// ---- edit ------------------------------------------------------------------------------------

std::vector<std::size_t> find_all(std::string_view haystack, std::string_view needle) {
    std::vector<std::size_t> hits;
    for (std::size_t pos = haystack.find(needle); pos != std::string_view::npos;
         pos = haystack.find(needle, pos + 1)) {
        hits.push_back(pos);
    }
    return hits;
}

std::size_t line_of(std::string_view text, std::size_t offset) {
    return 1 + static_cast<std::size_t>(
                   std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// Dice coefficient over character bigrams of the trimmed lines: cheap and forgiving of small
// edits, which is what "closest candidate" needs.
double line_similarity(std::string_view a, std::string_view b) {
    a = trim(a);
    b = trim(b);
    if (a == b)
        return 1.0;
    if (a.size() < 2 || b.size() < 2)
        return 0.0;
    std::unordered_multiset<std::uint32_t> grams;
    for (std::size_t i = 0; i + 1 < a.size(); ++i) {
        grams.insert((static_cast<std::uint32_t>(static_cast<unsigned char>(a[i])) << 8) |
                     static_cast<unsigned char>(a[i + 1]));
    }
    std::size_t common = 0;
    for (std::size_t i = 0; i + 1 < b.size(); ++i) {
        auto it = grams.find((static_cast<std::uint32_t>(static_cast<unsigned char>(b[i])) << 8) |
                             static_cast<unsigned char>(b[i + 1]));
        if (it != grams.end()) {
            ++common;
            grams.erase(it);
        }
    }
    return 2.0 * static_cast<double>(common) / static_cast<double>(a.size() + b.size() - 2);
}

std::string excerpt(const std::vector<std::string_view>& lines, std::size_t first,
                    std::size_t count) {
    std::string out;
    for (std::size_t i = first; i < std::min(lines.size(), first + count); ++i) {
        char num[24];
        std::snprintf(num, sizeof num, "%6zu\t", i + 1);
        std::string_view line = lines[i];
        if (line.size() > 200)
            line = line.substr(0, 200);
        out += num + std::string(line) + "\n";
    }
    return out;
}

void closest_candidates(std::string_view content, std::string_view old_text, std::string& text) {
    const auto lines = split_lines(content);
    auto wanted = split_lines(old_text);
    if (wanted.empty())
        wanted.push_back(old_text);
    const std::size_t k = std::min<std::size_t>(wanted.size(), 40);
    std::vector<std::pair<double, std::size_t>> scored;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        double score = 0;
        for (std::size_t j = 0; j < k && i + j < lines.size(); ++j) {
            score += line_similarity(lines[i + j], wanted[j]);
        }
        scored.emplace_back(score / static_cast<double>(k), i);
    }
    std::sort(scored.begin(), scored.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    bool any = false;
    for (std::size_t c = 0; c < std::min<std::size_t>(3, scored.size()); ++c) {
        if (scored[c].first <= 0.2)
            break;
        const std::size_t first = scored[c].second;
        any = true;
        text += "closest candidate at lines " + std::to_string(first + 1) + "-" +
                std::to_string(std::min(lines.size(), first + k)) + " (similarity " +
                std::to_string(static_cast<int>(scored[c].first * 100)) + "%):\n" +
                excerpt(lines, first, std::min<std::size_t>(k, 12));
    }
    if (!any)
        text += "no similar lines found\n";
}

ToolResult run_edit(const json& args, ToolContext& ctx) {
    const std::string user_path = arg_string(args, "path");
    const fs::path path = ctx.workspace.resolve(user_path);
    const std::string old_text = arg_string(args, "old_text");
    const std::string new_text = arg_string(args, "new_text");
    const bool replace_all = arg_bool(args, "replace_all", false);
    if (old_text.empty()) {
        throw ToolError(
            "old_text is empty: give the exact text to replace (use write to create a "
            "file)");
    }
    if (old_text == new_text) {
        throw ToolError("old_text and new_text are the same: nothing to change");
    }
    if (!fs::exists(path))
        throw ToolError("no such file: " + user_path);
    const std::string content = read_file(path);
    const std::string rel = ctx.workspace.relative(path);
    const auto hits = find_all(content, old_text);
    if (hits.empty()) {
        std::string text = "old_text was not found in " + rel + ".\n";
        closest_candidates(content, old_text, text);
        throw ToolError(text +
                        "Copy the exact text (including whitespace) from a read of the "
                        "file and try again.");
    }
    if (hits.size() > 1 && !replace_all) {
        const auto lines = split_lines(content);
        std::string text = "old_text occurs " + std::to_string(hits.size()) + " times in " + rel +
                           " (it must occur exactly once):\n";
        for (std::size_t i = 0; i < std::min<std::size_t>(hits.size(), 10); ++i) {
            const std::size_t line = line_of(content, hits[i]);
            text += "match " + std::to_string(i + 1) + " at line " + std::to_string(line) + ":\n" +
                    excerpt(lines, line - 1, 3);
        }
        throw ToolError(text +
                        "Add surrounding lines to old_text to make it unique, or pass "
                        "replace_all=true.");
    }
    std::string updated;
    updated.reserve(content.size() + new_text.size());
    std::size_t prev = 0;
    for (const std::size_t hit : hits) {
        updated.append(content, prev, hit - prev);
        updated += new_text;
        prev = hit + old_text.size();
    }
    updated.append(content, prev, std::string::npos);
    if (ctx.before_change) {
        ctx.before_change(path);
    }
    write_file_atomic(path, updated);
    const std::size_t first_line = line_of(updated, hits.front());
    ToolResult result;
    result.data = {{"path", rel}, {"replacements", hits.size()}, {"line", first_line}};
    const auto lines = split_lines(updated);
    const std::size_t shown = std::count(new_text.begin(), new_text.end(), '\n') + 1;
    result.text =
        "edited " + rel + " (" + std::to_string(hits.size()) + " replacement" +
        (hits.size() == 1 ? "" : "s") + "); now at line " + std::to_string(first_line) + ":\n" +
        excerpt(lines, first_line > 3 ? first_line - 3 : 0, std::min<std::size_t>(shown + 4, 30));
    return result;
}

// ---- apply_patch -----------------------------------------------------------------------------

ToolResult run_apply_patch(const json& args, ToolContext& ctx) {
    const PatchOutcome outcome =
        apply_patch(ctx.workspace, arg_string(args, "patch"), ctx.before_change);
    ToolResult result;
    json files = json::array();
    for (const auto& change : outcome.changes) {
        json entry = {{"path", change.path}, {"action", change.action}};
        if (!change.moved_to.empty())
            entry["moved_to"] = change.moved_to;
        files.push_back(entry);
        result.text += change.action + " " + change.path +
                       (change.moved_to.empty() ? "" : " -> " + change.moved_to) + "\n";
    }
    result.data = {{"files", files}};
    return result;
}

// ---- list ------------------------------------------------------------------------------------

ToolResult run_list(const json& args, ToolContext& ctx) {
    const std::string user_path = arg_string(args, "path", ".");
    const fs::path start = ctx.workspace.resolve(user_path);
    if (!fs::exists(start))
        throw ToolError("no such folder: " + user_path);
    if (!fs::is_directory(start))
        throw ToolError(user_path + " is a file: use read to see it");
    WalkOptions options;
    options.max_depth = static_cast<int>(arg_int(args, "depth", 3));
    options.respect_gitignore = !arg_bool(args, "include_ignored", false);
    json entries = json::array();
    std::string text = ctx.workspace.relative(start) + "/\n";
    std::size_t count = 0;
    bool capped = false;
    walk(ctx.workspace, start, options, [&](const WalkEntry& e) {
        if (count >= kMaxListEntries) {
            capped = true;
            return false;
        }
        ++count;
        const std::string indent(static_cast<std::size_t>(e.depth) * 2, ' ');
        const std::string name = e.path.filename().string();
        if (e.is_dir) {
            entries.push_back({{"path", e.relative}, {"type", "dir"}});
            text += indent + name + "/\n";
        } else {
            std::error_code ec;
            const auto size = fs::file_size(e.path, ec);
            entries.push_back({{"path", e.relative}, {"type", "file"}, {"size", ec ? 0 : size}});
            text += indent + name + " (" + human_size(ec ? 0 : size) + ")\n";
        }
        return true;
    });
    if (capped) {
        text += "[listing stopped at " + std::to_string(kMaxListEntries) +
                " entries; list a subfolder or lower depth]\n";
    }
    ToolResult result;
    result.data = {
        {"path", ctx.workspace.relative(start)}, {"entries", entries}, {"complete", !capped}};
    result.text = std::move(text);
    return result;
}

// ---- glob ------------------------------------------------------------------------------------

ToolResult run_glob(const json& args, ToolContext& ctx) {
    const std::string pattern = arg_string(args, "pattern");
    const std::string user_path = arg_string(args, "path", ".");
    const fs::path start = ctx.workspace.resolve(user_path);
    if (!fs::is_directory(start))
        throw ToolError("no such folder: " + user_path);
    if (pattern.empty())
        throw ToolError("pattern is empty");
    const std::string prefix =
        start == ctx.workspace.root() ? std::string() : ctx.workspace.relative(start) + "/";
    json matches = json::array();
    std::string text;
    bool capped = false;
    WalkOptions options;
    options.respect_gitignore = !arg_bool(args, "include_ignored", false);
    walk(ctx.workspace, start, options, [&](const WalkEntry& e) {
        if (e.is_dir)
            return true;
        const std::string_view below = std::string_view(e.relative).substr(prefix.size());
        if (glob_match(pattern, below)) {
            if (matches.size() >= kMaxGlobResults) {
                capped = true;
                return false;
            }
            matches.push_back(e.relative);
            text += e.relative + "\n";
        }
        return true;
    });
    if (matches.empty())
        text = "no files match " + pattern + "\n";
    if (capped)
        text += "[stopped at " + std::to_string(kMaxGlobResults) + " files]\n";
    ToolResult result;
    result.data = {{"pattern", pattern}, {"files", matches}, {"complete", !capped}};
    result.text = std::move(text);
    return result;
}

}  // namespace

void add_file_tools(Registry& registry) {
    registry.add({"read",
                  "Read a text file with numbered lines (1-based). Large files come in pages of "
                  "2000 lines: pass start_line/end_line (inclusive) for a range. Binary files are "
                  "detected and not shown; invalid UTF-8 is reported.",
                  object_schema({{"path", {{"type", "string"}, {"description", "file path"}}},
                                 {"start_line", {{"type", "integer"}, {"minimum", 1}}},
                                 {"end_line", {{"type", "integer"}, {"minimum", 1}}}},
                                {"path"}),
                  Permission::read, run_read,
                  "call read with start_line/end_line for a smaller range"});
    registry.add({"write",
                  "Create or overwrite a file with the given content (atomic; keeps the file's "
                  "permissions). Prefer edit for changes to existing files.",
                  object_schema({{"path", {{"type", "string"}}}, {"content", {{"type", "string"}}}},
                                {"path", "content"}),
                  Permission::write, run_write, ""});
    registry.add(
        {"edit",
         "Replace exactly one occurrence of old_text with new_text in a file. old_text must match "
         "the file byte for byte (whitespace included) and occur once; otherwise the error shows "
         "the closest candidates or every match with line numbers. replace_all=true replaces "
         "every occurrence.",
         object_schema({{"path", {{"type", "string"}}},
                        {"old_text", {{"type", "string"}}},
                        {"new_text", {{"type", "string"}}},
                        {"replace_all", {{"type", "boolean"}}}},
                       {"path", "old_text", "new_text"}),
         Permission::write, run_edit, ""});
    registry.add(
        {"apply_patch",
         "Apply a multi-file patch, all or nothing. Format:\n*** Begin Patch\n*** Add File: "
         "path\n+line\n*** Delete File: path\n*** Update File: path\n*** Move to: new/path "
         "(optional)\n@@ optional context line (e.g. a function header)\n context line\n-removed "
         "line\n+added line\n*** End Patch\nEach hunk needs enough context lines to be unique.",
         object_schema({{"patch", {{"type", "string"}}}}, {"patch"}), Permission::write,
         run_apply_patch, ""});
    registry.add({"list",
                  "List a folder as a tree with file sizes (default depth 3), skipping what "
                  ".gitignore hides and the .git folder.",
                  object_schema({{"path", {{"type", "string"}}},
                                 {"depth", {{"type", "integer"}, {"minimum", 1}}},
                                 {"include_ignored", {{"type", "boolean"}}}},
                                json::array()),
                  Permission::read, run_list, "list a subfolder or lower depth"});
    registry.add({"glob",
                  "Find files whose path (relative to path, default the workspace root) matches a "
                  "glob: * and ? within a name, ** across folders (e.g. \"**/*.cpp\", "
                  "\"src/**/test_*.py\"). Gitignore-aware.",
                  object_schema({{"pattern", {{"type", "string"}}},
                                 {"path", {{"type", "string"}}},
                                 {"include_ignored", {{"type", "boolean"}}}},
                                {"pattern"}),
                  Permission::read, run_glob, "use a narrower pattern or path"});
}

}  // namespace osprey::tools
