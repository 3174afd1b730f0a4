#include "tools/codenav/symbols.hpp"

#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <unordered_map>

#include "tools/codenav/queries.hpp"
#include "tools/core/tool_error.hpp"

namespace osprey::tools {
namespace {

struct QueryFree {
    void operator()(TSQuery* q) const { ts_query_delete(q); }
};

// The role of each capture id in a definitions query.
struct CaptureRole {
    bool is_name = false;
    bool is_definition = false;
    bool is_declaration = false;
    std::string kind;
};

struct LanguageQueries {
    std::unique_ptr<TSQuery, QueryFree> definitions;
    std::unique_ptr<TSQuery, QueryFree> references;
    std::vector<CaptureRole> roles;
    // When references.scm is a plain list of node types ("(identifier) @reference" per pattern),
    // the grammar symbols it names, indexed by symbol id: a tree-cursor walk that tests each
    // node's symbol finds exactly the nodes the query would, in the same (document) order, at a
    // fraction of the query cursor's cost. Empty when the query is anything richer.
    std::vector<bool> reference_symbols;
};

std::string_view query_language(std::string_view language) {
    return language == "tsx" ? std::string_view("typescript") : language;
}

std::string_view find_query(std::string_view language, std::string_view kind) {
    for (const auto& q : embedded_queries()) {
        if (q.language == query_language(language) && q.kind == kind)
            return q.text;
    }
    return {};
}

std::unique_ptr<TSQuery, QueryFree> compile(const Language& lang, std::string_view kind,
                                            std::string* problem) {
    const std::string_view text = find_query(lang.name, kind);
    if (text.empty()) {
        if (problem)
            *problem = std::string(lang.name) + ": no " + std::string(kind) + ".scm";
        return nullptr;
    }
    uint32_t offset = 0;
    TSQueryError error = TSQueryErrorNone;
    TSQuery* q = ts_query_new(lang.grammar, text.data(), static_cast<uint32_t>(text.size()),
                              &offset, &error);
    if (q == nullptr && problem) {
        const std::size_t line =
            1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
        *problem = "queries/" + std::string(query_language(lang.name)) + "/" + std::string(kind) +
                   ".scm line " + std::to_string(line) + ": tree-sitter query error " +
                   std::to_string(static_cast<int>(error)) + " near '" +
                   std::string(text.substr(offset, 40)) + "' (for grammar " +
                   std::string(lang.name) + ")";
    }
    return std::unique_ptr<TSQuery, QueryFree>(q);
}

// The node type of a pattern written "(type) @capture" (comments and whitespace aside), or empty.
std::string bare_node_type(std::string_view pattern) {
    std::string tokens;  // the pattern without comments and whitespace
    bool comment = false;
    for (const char c : pattern) {
        if (c == '\n')
            comment = false;
        else if (c == ';')
            comment = true;
        if (!comment && c != ' ' && c != '\t' && c != '\n' && c != '\r')
            tokens += c;
    }
    auto word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    };
    const std::size_t close = tokens.find(')');
    if (tokens.size() < 5 || tokens.front() != '(' || close == std::string::npos || close < 2 ||
        close + 2 >= tokens.size() || tokens[close + 1] != '@')
        return {};
    for (std::size_t i = 1; i < close; ++i) {
        if (!word(tokens[i]))
            return {};
    }
    for (std::size_t i = close + 2; i < tokens.size(); ++i) {
        if (!word(tokens[i]))
            return {};
    }
    return tokens.substr(1, close - 1);
}

std::vector<bool> plain_reference_symbols(const Language& lang, const TSQuery& query,
                                          std::string_view text) {
    std::vector<bool> wanted(ts_language_symbol_count(lang.grammar), false);
    const uint32_t patterns = ts_query_pattern_count(&query);
    for (uint32_t p = 0; p < patterns; ++p) {
        uint32_t steps = 0;
        ts_query_predicates_for_pattern(&query, p, &steps);
        const uint32_t begin = ts_query_start_byte_for_pattern(&query, p);
        const uint32_t end = p + 1 < patterns ? ts_query_start_byte_for_pattern(&query, p + 1)
                                              : static_cast<uint32_t>(text.size());
        const std::string type = steps == 0 && begin < end && end <= text.size()
                                     ? bare_node_type(text.substr(begin, end - begin))
                                     : std::string();
        const TSSymbol symbol =
            type.empty() || type == "ERROR"
                ? 0
                : ts_language_symbol_for_name(lang.grammar, type.data(),
                                              static_cast<uint32_t>(type.size()), true);
        if (symbol == 0 || symbol >= wanted.size() || wanted[symbol])
            return {};  // not a bare node pattern, unknown, or listed twice: run the query
        wanted[symbol] = true;
    }
    return patterns > 0 ? wanted : std::vector<bool>{};
}

LanguageQueries build_queries(const Language& l) {
    LanguageQueries q;
    q.definitions = compile(l, "definitions", nullptr);
    q.references = compile(l, "references", nullptr);
    if (!q.definitions || !q.references)
        return q;
    q.reference_symbols =
        plain_reference_symbols(l, *q.references, find_query(l.name, "references"));
    const uint32_t n = ts_query_capture_count(q.definitions.get());
    for (uint32_t id = 0; id < n; ++id) {
        uint32_t len = 0;
        const char* text = ts_query_capture_name_for_id(q.definitions.get(), id, &len);
        const std::string_view name(text, len);
        CaptureRole role;
        role.is_name = name == "name";
        if (name.rfind("definition.", 0) == 0) {
            role.is_definition = true;
            role.kind = std::string(name.substr(11));
        } else if (name.rfind("declaration.", 0) == 0) {
            role.is_declaration = true;
            role.kind = std::string(name.substr(12));
        }
        q.roles.push_back(role);
    }
    return q;
}

// Compiled on first use per language (compiling a query for a large grammar takes tens of
// milliseconds); TSQuery objects are immutable afterwards and shared across threads.
const LanguageQueries* queries_for(const Language& lang) {
    struct Slot {
        std::once_flag once;
        LanguageQueries queries;
    };
    static std::array<Slot, 16> slots;
    const auto all = languages();
    const auto index = static_cast<std::size_t>(&lang - all.data());
    if (index >= all.size() || index >= slots.size())
        return nullptr;
    Slot& slot = slots[index];
    std::call_once(slot.once, [&] { slot.queries = build_queries(lang); });
    return slot.queries.definitions && slot.queries.references ? &slot.queries : nullptr;
}

std::string_view node_text(TSNode node, std::string_view source) {
    const uint32_t start = ts_node_start_byte(node);
    const uint32_t end = ts_node_end_byte(node);
    if (start >= source.size() || end > source.size() || end < start)
        return {};
    return source.substr(start, end - start);
}

std::string collapse_whitespace(std::string_view text, std::size_t max_chars) {
    std::string out;
    bool space = false;
    for (const char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = !out.empty();
            continue;
        }
        if (space)
            out += ' ';
        space = false;
        out += c;
        if (out.size() >= max_chars) {
            out += "...";
            break;
        }
    }
    return out;
}

std::string signature_of(TSNode def, std::string_view source) {
    const TSNode body = ts_node_child_by_field_name(def, "body", 4);
    std::string_view text = node_text(def, source);
    if (!ts_node_is_null(body) && ts_node_start_byte(body) > ts_node_start_byte(def)) {
        text = text.substr(0, ts_node_start_byte(body) - ts_node_start_byte(def));
    } else {
        const std::size_t nl = text.find('\n');
        if (nl != std::string_view::npos)
            text = text.substr(0, nl);
    }
    std::string sig = collapse_whitespace(text, 200);
    while (!sig.empty() && (sig.back() == '{' || sig.back() == ' '))
        sig.pop_back();
    return sig;
}

bool is_class_like(std::string_view kind) {
    return kind == "class" || kind == "struct" || kind == "union" || kind == "interface" ||
           kind == "trait" || kind == "impl";
}

struct Candidate {
    TSNode def;
    TSNode name;
    uint32_t pattern;
    const CaptureRole* role;
};

}  // namespace

struct SymbolExtractor::Impl {
    TSParser* parser = ts_parser_new();
    TSQueryCursor* cursor = ts_query_cursor_new();
    ~Impl() {
        ts_query_cursor_delete(cursor);
        ts_parser_delete(parser);
    }
};

SymbolExtractor::SymbolExtractor() : impl_(std::make_unique<Impl>()) {
    // A pathological file must not stall an index run.
    ts_parser_set_timeout_micros(impl_->parser, 5'000'000);
}
SymbolExtractor::~SymbolExtractor() = default;

FileSymbols SymbolExtractor::extract(const Language& language, std::string_view source,
                                     bool with_references, ReferenceScan scan) {
    const LanguageQueries* queries = queries_for(language);
    if (queries == nullptr) {
        throw ToolError("no code navigation queries for " + std::string(language.name));
    }
    if (!ts_parser_set_language(impl_->parser, language.grammar)) {
        throw ToolError("the tree-sitter runtime rejects the " + std::string(language.name) +
                        " grammar");
    }
    struct TreeFree {
        void operator()(TSTree* t) const { ts_tree_delete(t); }
    };
    std::unique_ptr<TSTree, TreeFree> tree(ts_parser_parse_string(
        impl_->parser, nullptr, source.data(), static_cast<uint32_t>(source.size())));
    if (!tree) {
        ts_parser_reset(impl_->parser);
        throw ToolError("parsing timed out");
    }
    const TSNode root = ts_tree_root_node(tree.get());
    FileSymbols out;
    out.has_errors = ts_node_has_error(root);

    // Definitions: one candidate per name node, the earliest pattern winning.
    std::unordered_map<uint32_t, Candidate> by_name;
    ts_query_cursor_exec(impl_->cursor, queries->definitions.get(), root);
    TSQueryMatch match;
    while (ts_query_cursor_next_match(impl_->cursor, &match)) {
        TSNode def{}, name{};
        const CaptureRole* role = nullptr;
        bool have_def = false, have_name = false;
        for (uint16_t i = 0; i < match.capture_count; ++i) {
            const CaptureRole& r = queries->roles[match.captures[i].index];
            if (r.is_name) {
                name = match.captures[i].node;
                have_name = true;
            } else if (r.is_definition || r.is_declaration) {
                def = match.captures[i].node;
                role = &r;
                have_def = true;
            }
        }
        if (!have_def || !have_name)
            continue;
        const uint32_t key = ts_node_start_byte(name);
        auto it = by_name.find(key);
        if (it == by_name.end() || match.pattern_index < it->second.pattern) {
            by_name[key] = Candidate{def, name, match.pattern_index, role};
        }
    }
    std::vector<Candidate> candidates;
    candidates.reserve(by_name.size());
    for (auto& [key, c] : by_name)
        candidates.push_back(c);
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        const uint32_t as = ts_node_start_byte(a.def), bs = ts_node_start_byte(b.def);
        if (as != bs)
            return as < bs;
        return ts_node_end_byte(a.def) > ts_node_end_byte(b.def);
    });
    std::vector<std::pair<uint32_t, int>> stack;  // (end byte, symbol index)
    for (const auto& c : candidates) {
        Symbol s;
        TSNode name = c.name;
        // Class::method, a::b::c: the last component is the name, the rest its qualifier.
        while (std::string_view(ts_node_type(name)) == "qualified_identifier") {
            const TSNode scope = ts_node_child_by_field_name(name, "scope", 5);
            const TSNode inner = ts_node_child_by_field_name(name, "name", 4);
            if (ts_node_is_null(inner))
                break;
            if (!ts_node_is_null(scope)) {
                s.qualifier +=
                    (s.qualifier.empty() ? "" : "::") + std::string(node_text(scope, source));
            }
            name = inner;
        }
        std::string_view text = node_text(name, source);
        if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'')) {
            text = text.substr(1, text.size() - 2);
        }
        if (text.empty())
            continue;
        s.name = std::string(text);
        s.kind = c.role->kind;
        s.declaration = c.role->is_declaration;
        const TSPoint start = ts_node_start_point(c.def);
        const TSPoint end = ts_node_end_point(c.def);
        s.start_line = start.row + 1;
        s.end_line = (end.column == 0 && end.row > start.row) ? end.row : end.row + 1;
        s.signature = signature_of(c.def, source);
        const uint32_t def_start = ts_node_start_byte(c.def);
        while (!stack.empty() && stack.back().first <= def_start)
            stack.pop_back();
        if (!stack.empty()) {
            s.parent = stack.back().second;
            s.depth = out.symbols[static_cast<std::size_t>(s.parent)].depth + 1;
            const Symbol& parent = out.symbols[static_cast<std::size_t>(s.parent)];
            if (s.kind == "function" && is_class_like(parent.kind))
                s.kind = "method";
        }
        if (s.kind == "function" && !s.qualifier.empty() && language.name == "cpp") {
            s.kind = "method";
        }
        stack.emplace_back(ts_node_end_byte(c.def), static_cast<int>(out.symbols.size()));
        out.symbols.push_back(std::move(s));
    }

    if (with_references && scan == ReferenceScan::fastest && !queries->reference_symbols.empty()) {
        const std::vector<bool>& wanted = queries->reference_symbols;
        struct CursorFree {
            TSTreeCursor cursor;
            ~CursorFree() { ts_tree_cursor_delete(&cursor); }
        } walk{ts_tree_cursor_new(root)};
        TSTreeCursor* c = &walk.cursor;
        for (;;) {
            const TSNode node = ts_tree_cursor_current_node(c);
            const TSSymbol symbol = ts_node_symbol(node);
            if (symbol < wanted.size() && wanted[symbol]) {
                const std::string_view text = node_text(node, source);
                if (!text.empty()) {
                    const TSPoint p = ts_node_start_point(node);
                    out.references.push_back({std::string(text), p.row + 1, p.column + 1});
                }
            }
            if (ts_tree_cursor_goto_first_child(c))
                continue;
            bool more = false;
            do {
                if (ts_tree_cursor_goto_next_sibling(c)) {
                    more = true;
                    break;
                }
            } while (ts_tree_cursor_goto_parent(c));
            if (!more)
                break;
        }
    } else if (with_references) {
        ts_query_cursor_exec(impl_->cursor, queries->references.get(), root);
        while (ts_query_cursor_next_match(impl_->cursor, &match)) {
            for (uint16_t i = 0; i < match.capture_count; ++i) {
                const TSNode node = match.captures[i].node;
                const std::string_view text = node_text(node, source);
                if (text.empty())
                    continue;
                const TSPoint p = ts_node_start_point(node);
                out.references.push_back({std::string(text), p.row + 1, p.column + 1});
            }
        }
    }
    return out;
}

std::vector<std::string> check_queries() {
    std::vector<std::string> problems;
    for (const auto& lang : languages()) {
        for (const char* kind : {"definitions", "references"}) {
            std::string problem;
            if (!compile(lang, kind, &problem))
                problems.push_back(problem);
        }
    }
    return problems;
}

}  // namespace osprey::tools
