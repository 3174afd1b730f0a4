#include "tools/search/grep.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fcntl.h>
#include <pcre2.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "tools/codenav/languages.hpp"
#include "tools/core/file_io.hpp"
#include "tools/core/file_walker.hpp"
#include "tools/core/glob.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxLineChars = 500;

const std::map<std::string, std::vector<std::string>>& extra_types() {
    static const std::map<std::string, std::vector<std::string>> kTypes = {
        {"md", {".md", ".markdown"}},
        {"json", {".json"}},
        {"yaml", {".yml", ".yaml"}},
        {"toml", {".toml"}},
        {"sh", {".sh", ".bash"}},
        {"cmake", {".cmake", "CMakeLists.txt"}},
        {"txt", {".txt"}},
        {"cuda", {".cu", ".cuh"}},
        {"scm", {".scm"}},
    };
    return kTypes;
}

std::vector<std::string> extensions_for(const std::string& type) {
    if (const Language* lang = find_language(type)) {
        std::vector<std::string> exts(lang->extensions.begin(), lang->extensions.end());
        if (type == "c")
            exts.push_back(".h");
        return exts;
    }
    if (type == "js")
        return extensions_for("javascript");
    if (type == "ts")
        return extensions_for("typescript");
    if (type == "py")
        return extensions_for("python");
    if (type == "rs")
        return extensions_for("rust");
    auto it = extra_types().find(type);
    if (it != extra_types().end())
        return it->second;
    std::string known;
    for (const auto& t : grep_types())
        known += (known.empty() ? "" : ", ") + t.substr(0, t.find(':'));
    throw ToolError("unknown file type '" + type + "' (known: " + known + ")");
}

bool has_type(const std::string& name, const std::vector<std::string>& exts) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& ext : exts) {
        if (ext[0] != '.') {
            if (name == ext)
                return true;
        } else if (lower.size() > ext.size() &&
                   lower.compare(lower.size() - ext.size(), ext.size(), ext) == 0) {
            return true;
        }
    }
    return false;
}

struct CodeFree {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataFree {
    void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

std::string clip(std::string_view line) {
    if (line.size() <= kMaxLineChars)
        return std::string(line);
    std::size_t cut = kMaxLineChars;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80)
        --cut;
    return std::string(line.substr(0, cut)) + " [...]";
}

bool read_into(const fs::path& path, std::string& buffer) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    buffer.clear();
    std::size_t got = 0;
    for (;;) {
        if (buffer.size() - got < 65536)
            buffer.resize(std::max<std::size_t>(buffer.size() * 2, got + 65536));
        const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    buffer.resize(got);
    return true;
}

// Searches one buffer; fills `out` with matching lines (one entry per line) and context.
std::size_t search_buffer(const pcre2_code* code, pcre2_match_data* md, std::string_view text,
                          std::size_t context, std::size_t limit, GrepFile& out) {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::vector<std::pair<std::size_t, std::size_t>> hits;  // (line number, line start offset)
    std::size_t pos = 0;
    std::size_t line_no = 1;
    std::size_t counted_to = 0;
    while (pos <= text.size() && hits.size() < limit) {
        const int rc = pcre2_match(code, subject, text.size(), pos, 0, md, nullptr);
        if (rc < 0)
            break;  // no match (or an error such as a match limit: stop this file)
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        // Matches are line by line, as in grep and ripgrep: one that crosses a newline (`\s+`
        // can) is retried confined to the line where it starts.
        if (std::memchr(text.data() + ov[0], '\n', ov[1] - ov[0]) != nullptr) {
            std::size_t line_end = text.find('\n', ov[0]);
            const std::size_t line_begin =
                ov[0] == 0 ? 0
                           : (text.rfind('\n', ov[0] - 1) == std::string_view::npos
                                  ? 0
                                  : text.rfind('\n', ov[0] - 1) + 1);
            const int again =
                pcre2_match(code, subject, line_end, std::max(pos, line_begin), 0, md, nullptr);
            if (again < 0 || ov[0] == line_end) {
                pos = line_end + 1;
                continue;
            }
        }
        const std::size_t start = ov[0];
        if (start == text.size() && start > 0 && text.back() == '\n')
            break;  // past the last line
        std::size_t line_start = 0;
        if (start > 0) {
            const std::size_t nl = text.rfind('\n', start - 1);
            line_start = nl == std::string_view::npos ? 0 : nl + 1;
        }
        line_no += static_cast<std::size_t>(std::count(text.begin() + static_cast<long>(counted_to),
                                                       text.begin() + static_cast<long>(line_start),
                                                       '\n'));
        counted_to = line_start;
        hits.emplace_back(line_no, line_start);
        const std::size_t line_end =
            text.find('\n', std::max(start, ov[1] == start ? start : ov[1] - 1));
        if (line_end == std::string_view::npos)
            break;
        pos = line_end + 1;
    }
    if (hits.empty())
        return 0;
    auto line_text = [&](std::size_t offset) {
        std::size_t end = text.find('\n', offset);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(offset, end - offset);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        return clip(line);
    };
    if (context == 0) {
        for (const auto& [n, offset] : hits)
            out.lines.push_back({n, line_text(offset), true});
        return hits.size();
    }
    // With context: index the line starts once.
    std::vector<std::size_t> starts = {0};
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && i + 1 < text.size())
            starts.push_back(i + 1);
    }
    std::size_t emitted_to = 0;  // last line number emitted
    for (std::size_t h = 0; h < hits.size(); ++h) {
        const std::size_t n = hits[h].first;
        const std::size_t from =
            std::max<std::size_t>(n > context ? n - context : 1, emitted_to + 1);
        const std::size_t to = std::min(starts.size(), n + context);
        for (std::size_t k = from; k <= to; ++k) {
            const bool is_match = std::any_of(hits.begin() + static_cast<long>(h), hits.end(),
                                              [&](const auto& hit) { return hit.first == k; });
            out.lines.push_back({k, line_text(starts[k - 1]), is_match});
        }
        emitted_to = std::max(emitted_to, to);
    }
    return hits.size();
}

}  // namespace

std::vector<std::string> grep_types() {
    std::vector<std::string> out;
    for (const auto& lang : languages()) {
        std::string line = std::string(lang.name) + ":";
        for (const auto& e : extensions_for(std::string(lang.name)))
            line += " " + e;
        out.push_back(line);
    }
    for (const auto& [name, exts] : extra_types()) {
        std::string line = name + ":";
        for (const auto& e : exts)
            line += " " + e;
        out.push_back(line);
    }
    return out;
}

GrepResult grep(const Workspace& ws, const fs::path& start, const GrepOptions& options) {
    if (options.pattern.empty())
        throw ToolError("the pattern is empty");
    std::uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if (options.ignore_case)
        flags |= PCRE2_CASELESS;
    flags |= options.fixed_strings ? PCRE2_LITERAL : PCRE2_MULTILINE;
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    std::unique_ptr<pcre2_code, CodeFree> code(
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(options.pattern.data()), options.pattern.size(),
                      flags, &error_code, &error_offset, nullptr));
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof message);
        throw ToolError("invalid regular expression at offset " + std::to_string(error_offset) +
                        ": " + reinterpret_cast<const char*>(message) +
                        " (set fixed_strings=true to search for literal text)");
    }
    pcre2_jit_compile(code.get(), PCRE2_JIT_COMPLETE);  // falls back to the interpreter if no JIT

    const std::vector<std::string> exts =
        options.type.empty() ? std::vector<std::string>{} : extensions_for(options.type);
    // The file list, in path order.
    std::vector<WalkEntry> files;
    if (fs::is_regular_file(start)) {
        files.push_back({start, ws.relative(start), false, 0});
    } else if (fs::is_directory(start)) {
        WalkOptions walk_options;
        walk_options.respect_gitignore = options.respect_gitignore;
        const std::string prefix = start == ws.root() ? std::string() : ws.relative(start) + "/";
        const bool glob_on_name = options.glob.find('/') == std::string::npos;
        walk(ws, start, walk_options, [&](const WalkEntry& e) {
            if (e.is_dir)
                return true;
            if (!exts.empty() && !has_type(e.path.filename().string(), exts))
                return true;
            if (!options.glob.empty()) {
                const std::string_view below = std::string_view(e.relative).substr(prefix.size());
                const std::string_view name =
                    glob_on_name
                        ? below.substr(
                              below.rfind('/') == std::string_view::npos ? 0 : below.rfind('/') + 1)
                        : below;
                if (!glob_match(options.glob, name))
                    return true;
            }
            files.push_back(e);
            return true;
        });
    } else {
        throw ToolError("no such file or folder: " + ws.relative(start));
    }

    std::vector<GrepFile> results(files.size());
    std::vector<char> searched(files.size(), 0);
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> total{0};
    std::atomic<std::size_t> binary{0};
    const std::size_t limit = options.max_matches;
    auto worker = [&] {
        std::unique_ptr<pcre2_match_data, MatchDataFree> md(
            pcre2_match_data_create_from_pattern(code.get(), nullptr));
        std::string buffer;
        for (;;) {
            if (total.load(std::memory_order_relaxed) >= limit)
                return;
            const std::size_t i = next.fetch_add(1);
            if (i >= files.size())
                return;
            searched[i] = 1;
            if (!read_into(files[i].path, buffer))
                continue;
            if (looks_binary(buffer)) {
                binary.fetch_add(1);
                continue;
            }
            results[i].path = files[i].relative;
            results[i].matches =
                search_buffer(code.get(), md.get(), buffer, options.context, limit + 1, results[i]);
            total.fetch_add(results[i].matches);
        }
    };
    unsigned threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
    threads =
        std::max(1U, std::min<unsigned>(threads, static_cast<unsigned>(files.size() / 4 + 1)));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t)
        pool.emplace_back(worker);
    worker();
    for (auto& t : pool)
        t.join();

    GrepResult result;
    result.binary_skipped = binary.load();
    for (std::size_t i = 0; i < files.size(); ++i) {
        result.files_searched += searched[i];
        if (results[i].matches == 0)
            continue;
        if (result.total_matches >= limit) {
            result.limit_hit = true;
            break;
        }
        GrepFile& f = results[i];
        if (result.total_matches + f.matches > limit) {
            // Keep the first matches only (and the context around them).
            std::size_t keep = limit - result.total_matches;
            std::size_t last_line = 0;
            for (const auto& l : f.lines) {
                if (l.is_match && keep-- == 0)
                    break;
                last_line = l.line;
            }
            f.lines.erase(std::remove_if(f.lines.begin(), f.lines.end(),
                                         [&](const GrepLine& l) { return l.line > last_line; }),
                          f.lines.end());
            f.matches = limit - result.total_matches;
            result.limit_hit = true;
        }
        result.total_matches += f.matches;
        result.files.push_back(std::move(f));
    }
    if (total.load() > result.total_matches)
        result.limit_hit = true;
    return result;
}

namespace {

ToolResult run_grep(const json& args, ToolContext& ctx) {
    GrepOptions options;
    options.pattern = arg_string(args, "pattern");
    options.ignore_case = arg_bool(args, "ignore_case", false);
    options.fixed_strings = arg_bool(args, "fixed_strings", false);
    options.context = static_cast<std::size_t>(arg_int(args, "context", 0));
    options.max_matches = static_cast<std::size_t>(arg_int(args, "max_matches", 200));
    options.glob = arg_string(args, "glob");
    options.type = arg_string(args, "type");
    options.respect_gitignore = !arg_bool(args, "include_ignored", false);
    const fs::path start = ctx.workspace.resolve(arg_string(args, "path", "."));
    const GrepResult found = grep(ctx.workspace, start, options);

    ToolResult result;
    json files = json::array();
    std::string text;
    for (const auto& f : found.files) {
        json lines = json::array();
        std::size_t prev = 0;
        for (const auto& l : f.lines) {
            lines.push_back({{"line", l.line}, {"text", l.text}, {"match", l.is_match}});
            if (options.context > 0 && prev != 0 && l.line > prev + 1)
                text += "--\n";
            text += f.path + (l.is_match ? ":" : "-") + std::to_string(l.line) +
                    (l.is_match ? ":" : "-") + l.text + "\n";
            prev = l.line;
        }
        if (options.context > 0)
            text += "--\n";
        files.push_back({{"path", f.path}, {"matches", f.matches}, {"lines", lines}});
    }
    if (found.files.empty()) {
        text = "no matches for /" + options.pattern + "/ in " +
               std::to_string(found.files_searched) + " files\n";
    }
    if (found.limit_hit) {
        text += "[stopped at " + std::to_string(options.max_matches) +
                " matches; narrow the search with path, glob or type, or raise max_matches]\n";
    }
    result.data = {{"files", files},
                   {"total_matches", found.total_matches},
                   {"files_searched", found.files_searched},
                   {"binary_files_skipped", found.binary_skipped},
                   {"limit_hit", found.limit_hit}};
    result.text = std::move(text);
    return result;
}

}  // namespace

void add_grep_tool(Registry& registry) {
    std::string types;
    for (const auto& t : grep_types())
        types += (types.empty() ? "" : ", ") + t.substr(0, t.find(':'));
    registry.add(
        {"grep",
         "Search file contents with a regular expression (PCRE2 syntax; fixed_strings=true for "
         "literal text). Searches path (a file or folder, default the workspace root), skipping "
         "what .gitignore hides and binary files. Output lines are path:line:text (context lines "
         "path-line-text). glob filters file paths (e.g. \"*.py\", \"src/**/*.ts\"); type filters "
         "by language (" +
             types + ").",
         {{"type", "object"},
          {"properties",
           {{"pattern", {{"type", "string"}, {"minLength", 1}}},
            {"path", {{"type", "string"}}},
            {"glob", {{"type", "string"}}},
            {"type", {{"type", "string"}}},
            {"ignore_case", {{"type", "boolean"}}},
            {"fixed_strings", {{"type", "boolean"}}},
            {"context", {{"type", "integer"}, {"minimum", 0}, {"maximum", 50}}},
            {"max_matches", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100000}}},
            {"include_ignored", {{"type", "boolean"}}}}},
          {"required", {"pattern"}},
          {"additionalProperties", false}},
         Permission::read,
         run_grep,
         "narrow the search with path, glob or type, or lower context"});
}

}  // namespace osprey::tools
