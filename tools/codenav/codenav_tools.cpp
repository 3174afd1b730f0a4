#include "tools/codenav/codenav_tools.hpp"

#include <filesystem>

#include "tools/codenav/repo_map.hpp"
#include "tools/core/file_io.hpp"
#include "tools/core/json_schema.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;
using nlohmann::json;

SymbolIndex& session_index(ToolContext& ctx) {
    const auto now = std::chrono::steady_clock::now();
    if (!ctx.symbol_index) {
        const fs::path path =
            ctx.index_path.empty() ? SymbolIndex::default_path(ctx.workspace) : ctx.index_path;
        ctx.symbol_index = std::make_shared<SymbolIndex>(ctx.workspace, path);
    } else if (ctx.indexed_generation == ctx.generation &&
               now - ctx.indexed_at < ctx.index_max_age) {
        return *ctx.symbol_index;
    }
    ctx.symbol_index->refresh();
    ctx.indexed_generation = ctx.generation;
    ctx.indexed_at = std::chrono::steady_clock::now();
    return *ctx.symbol_index;
}

namespace {

std::string supported_extensions() {
    std::string out;
    for (const auto& lang : languages()) {
        for (const auto& ext : lang.extensions)
            out += (out.empty() ? "" : " ") + std::string(ext);
    }
    return out;
}

std::string line_range(std::uint32_t a, std::uint32_t b) {
    return a == b ? std::to_string(a) : std::to_string(a) + "-" + std::to_string(b);
}

ToolResult run_outline(const json& args, ToolContext& ctx) {
    const std::string user_path = arg_string(args, "path");
    const fs::path path = ctx.workspace.resolve(user_path);
    if (!fs::is_regular_file(path))
        throw ToolError("no such file: " + user_path);
    const Language* lang = language_for_path(path);
    if (lang == nullptr) {
        throw ToolError("no code navigation for " + path.filename().string() +
                        " (supported: " + supported_extensions() + ")");
    }
    const std::string content = read_file(path);
    SymbolExtractor extractor;
    const FileSymbols found = extractor.extract(*lang, content, false);
    const std::string rel = ctx.workspace.relative(path);
    // Nested JSON: children arrays under their parents.
    std::vector<json> nodes;
    for (const auto& s : found.symbols) {
        nodes.push_back({{"name", s.name},
                         {"kind", s.kind},
                         {"start_line", s.start_line},
                         {"end_line", s.end_line},
                         {"signature", s.signature},
                         {"children", json::array()}});
        if (!s.qualifier.empty())
            nodes.back()["qualifier"] = s.qualifier;
        if (s.declaration)
            nodes.back()["declaration"] = true;
    }
    for (std::size_t i = found.symbols.size(); i-- > 0;) {
        const int parent = found.symbols[i].parent;
        if (parent >= 0) {
            auto& children = nodes[static_cast<std::size_t>(parent)]["children"];
            children.insert(children.begin(), nodes[i]);
        }
    }
    json top = json::array();
    std::string text = rel + " (" + std::string(lang->name) + ")\n";
    for (std::size_t i = 0; i < found.symbols.size(); ++i) {
        const Symbol& s = found.symbols[i];
        if (s.parent < 0)
            top.push_back(nodes[i]);
        text += std::string(static_cast<std::size_t>(s.depth + 1) * 2, ' ') + s.kind + " " +
                (s.qualifier.empty() ? "" : s.qualifier + "::") + s.name + " [" +
                line_range(s.start_line, s.end_line) + "] " + s.signature + "\n";
    }
    if (found.symbols.empty())
        text += "  (no symbols)\n";
    if (found.has_errors)
        text += "[the file has syntax errors: the outline may be incomplete]\n";
    ToolResult result;
    result.data = {{"path", rel},
                   {"language", lang->name},
                   {"symbols", top},
                   {"syntax_errors", found.has_errors}};
    result.text = std::move(text);
    return result;
}

ToolResult run_definition(const json& args, ToolContext& ctx) {
    const std::string name = arg_string(args, "name");
    std::string from;
    if (args.contains("from"))
        from = ctx.workspace.relative(ctx.workspace.resolve(args["from"].get<std::string>()));
    SymbolIndex& index = session_index(ctx);
    const auto hits = index.definitions(name, arg_string(args, "kind"), from);
    const auto limit = static_cast<std::size_t>(arg_int(args, "limit", 20));
    json out = json::array();
    std::string text;
    for (std::size_t i = 0; i < std::min(limit, hits.size()); ++i) {
        const auto& h = hits[i];
        const Symbol& s = h.symbol;
        std::string full = h.parent_name;
        if (!s.qualifier.empty())
            full += (full.empty() ? "" : "::") + s.qualifier;
        full += (full.empty() ? "" : "::") + s.name;
        out.push_back({{"path", h.path},
                       {"name", s.name},
                       {"qualified_name", full},
                       {"kind", s.kind},
                       {"start_line", s.start_line},
                       {"end_line", s.end_line},
                       {"signature", s.signature},
                       {"declaration", s.declaration}});
        text += h.path + ":" + line_range(s.start_line, s.end_line) + ": " + s.kind +
                (s.declaration ? " (declaration)" : "") + " " + full + "\n    " + s.signature +
                "\n";
    }
    if (hits.empty()) {
        text = "no definition of '" + name + "'" +
               (args.contains("kind") ? " of kind " + arg_string(args, "kind") : "") + " in " +
               std::to_string(index.file_count()) + " indexed source files\n";
    } else if (hits.size() > limit) {
        text += "[";
        text += std::to_string(hits.size() - limit);
        text += " more; pass kind or a higher limit]\n";
    }
    ToolResult result;
    result.data = {{"name", name}, {"definitions", out}, {"total", hits.size()}};
    result.text = std::move(text);
    return result;
}

ToolResult run_references(const json& args, ToolContext& ctx) {
    const std::string name = arg_string(args, "name");
    const auto limit = static_cast<std::size_t>(arg_int(args, "limit", 200));
    SymbolIndex& index = session_index(ctx);
    const auto hits = index.references(name, limit + 1);
    json out = json::array();
    std::string text;
    std::string cached_path;
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < std::min(limit, hits.size()); ++i) {
        const auto& h = hits[i];
        if (h.path != cached_path) {
            cached_path = h.path;
            lines.clear();
            try {
                const std::string content = read_file(ctx.workspace.root() / h.path);
                std::size_t pos = 0;
                while (pos < content.size()) {
                    std::size_t end = content.find('\n', pos);
                    if (end == std::string::npos)
                        end = content.size();
                    lines.push_back(content.substr(pos, end - pos));
                    pos = end + 1;
                }
            } catch (const ToolError&) {
            }
        }
        std::string line_text = h.line <= lines.size() ? lines[h.line - 1] : "";
        const auto first = line_text.find_first_not_of(" \t");
        line_text = first == std::string::npos ? "" : line_text.substr(first, 200);
        out.push_back({{"path", h.path},
                       {"line", h.line},
                       {"column", h.column},
                       {"enclosing", h.enclosing},
                       {"definition", h.is_definition},
                       {"text", line_text}});
        text += h.path + ":" + std::to_string(h.line) + ":" + std::to_string(h.column) + ": " +
                (h.enclosing.empty() ? "(file scope)" : "in " + h.enclosing) +
                (h.is_definition ? " [definition]" : "") + ": " + line_text + "\n";
    }
    if (hits.empty())
        text = "no references to '" + name + "'\n";
    if (hits.size() > limit) {
        text += "[stopped at " + std::to_string(limit) + " references; raise limit]\n";
    }
    ToolResult result;
    result.data = {{"name", name}, {"references", out}, {"complete", hits.size() <= limit}};
    result.text = std::move(text);
    return result;
}

ToolResult run_repo_map(const json& args, ToolContext& ctx) {
    RepoMapOptions options;
    options.budget_tokens = static_cast<std::size_t>(arg_int(args, "budget", 1024));
    if (args.contains("focus")) {
        const json& focus = args["focus"];
        auto add = [&](const std::string& item) {
            std::string s = item;
            while (!s.empty() && s.front() == ' ')
                s.erase(0, 1);
            while (!s.empty() && s.back() == ' ')
                s.pop_back();
            if (s.empty())
                return;
            // Paths are resolved in the workspace; anything else is a symbol name.
            if (s.find('/') != std::string::npos || s.find('.') != std::string::npos) {
                try {
                    const fs::path p = ctx.workspace.resolve(s);
                    if (fs::exists(p)) {
                        s = ctx.workspace.relative(p);
                    }
                } catch (const ToolError&) {
                    throw;
                }
            }
            options.focus.push_back(s);
        };
        if (focus.is_string()) {
            const std::string text = focus.get<std::string>();
            std::size_t pos = 0;
            while (pos <= text.size()) {
                std::size_t end = text.find(',', pos);
                if (end == std::string::npos)
                    end = text.size();
                add(text.substr(pos, end - pos));
                pos = end + 1;
            }
        } else {
            for (const auto& item : focus)
                add(item.get<std::string>());
        }
    }
    SymbolIndex& index = session_index(ctx);
    RepoMap map = build_repo_map(index, options);
    ToolResult result;
    result.data = std::move(map.data);
    result.text = std::move(map.text);
    return result;
}

}  // namespace

void add_codenav_tools(Registry& registry) {
    const json kinds = {"function",  "method",   "class", "struct",    "union",  "enum",
                        "interface", "trait",    "impl",  "namespace", "module", "type",
                        "variable",  "constant", "field", "macro"};
    registry.add({"outline",
                  "List a source file's symbols (functions, methods, classes/structs, enums, "
                  "namespaces/modules, top-level variables) with kind, name, line range and "
                  "signature, nested. C, C++, Python, JavaScript, TypeScript, Go, Rust, Java.",
                  object_schema({{"path", {{"type", "string"}}}}, {"path"}), Permission::read,
                  run_outline, "outline a smaller file or use definition"});
    registry.add({"definition",
                  "Find where a symbol is defined across the repository (from a symbol index kept "
                  "up to date). Ranked: the file given as from, its folder, then elsewhere; "
                  "definitions before declarations. kind narrows (function, method, class, ...).",
                  object_schema({{"name", {{"type", "string"}, {"minLength", 1}}},
                                 {"kind", {{"type", "string"}, {"enum", kinds}}},
                                 {"from", {{"type", "string"}}},
                                 {"limit", {{"type", "integer"}, {"minimum", 1}}}},
                                {"name"}),
                  Permission::read, run_definition, "pass kind or from to narrow"});
    registry.add({"references",
                  "Find every use of a name as an identifier (never inside comments or strings), "
                  "each with its enclosing symbol and the line's text.",
                  object_schema({{"name", {{"type", "string"}, {"minLength", 1}}},
                                 {"limit", {{"type", "integer"}, {"minimum", 1}}}},
                                {"name"}),
                  Permission::read, run_references, "lower limit"});
    registry.add(
        {"repo_map",
         "A compact map of the repository's most important symbols (file: line: signature) "
         "within a token budget (default 1024), ranked by PageRank over the file reference graph; "
         "focus (files, folders or symbol names; a list or comma-separated) biases it toward what "
         "you are working on.",
         object_schema(
             {{"budget", {{"type", "integer"}, {"minimum", 64}, {"maximum", 65536}}},
              {"focus", {{"type", {"string", "array"}}, {"items", {{"type", "string"}}}}}},
             json::array()),
         Permission::read, run_repo_map, "lower budget"});
}

}  // namespace osprey::tools
