#pragma once
// Symbols and references of one source file, extracted with the language's tree-sitter queries
// (codenav/queries/<lang>/definitions.scm and references.scm).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/codenav/languages.hpp"

namespace osprey::tools {

struct Symbol {
    std::string name;              // "method" for Class::method
    std::string qualifier;         // "Class" for Class::method; empty otherwise
    std::string kind;              // function, method, class, struct, ... (see queries/README.md)
    std::uint32_t start_line = 0;  // 1-based, inclusive
    std::uint32_t end_line = 0;
    std::string signature;     // the header up to the body, whitespace collapsed
    bool declaration = false;  // a declaration without a body (prototype, interface method)
    int parent = -1;           // index of the enclosing symbol in the same list, or -1
    int depth = 0;
};

struct Reference {
    std::string name;
    std::uint32_t line = 0;    // 1-based
    std::uint32_t column = 0;  // 1-based, in bytes
};

struct FileSymbols {
    std::vector<Symbol> symbols;  // in source order, parents before children
    std::vector<Reference> references;
    bool has_errors = false;  // the tree has syntax errors (results are best effort)
};

// How references are found: by walking the tree and testing node types when references.scm is a
// plain list of node types (fast; the default), or by running the query (the plain version the
// walk is tested against; also used for any richer references.scm).
enum class ReferenceScan { fastest, query };

// One parser (one per thread); the compiled queries are shared and built once.
class SymbolExtractor {
public:
    SymbolExtractor();
    ~SymbolExtractor();
    SymbolExtractor(const SymbolExtractor&) = delete;
    SymbolExtractor& operator=(const SymbolExtractor&) = delete;

    // Throws ToolError when the language has no queries or the parse is cut off.
    FileSymbols extract(const Language& language, std::string_view source,
                        bool with_references = true, ReferenceScan scan = ReferenceScan::fastest);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Checks every embedded query compiles for its grammar(s); returns problems, empty when fine.
std::vector<std::string> check_queries();

}  // namespace osprey::tools
