#include <tree_sitter/api.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "tools/codenav/languages.hpp"

using namespace osprey::tools;

namespace {

struct ParserFree {
    void operator()(TSParser* p) const { ts_parser_delete(p); }
};
struct TreeFree {
    void operator()(TSTree* t) const { ts_tree_delete(t); }
};
struct QueryFree {
    void operator()(TSQuery* q) const { ts_query_delete(q); }
};

const std::map<std::string, std::string> kSamples = {
    {"c", "int add(int a, int b) { return a + b; }\n"},
    {"cpp",
     "namespace n { template <class T> struct S { T v; auto get() const { return v; } }; }\n"},
    {"python", "class A:\n    def f(self, x):\n        return [i * x for i in range(3)]\n"},
    {"javascript", "export const f = async (x) => { for (const y of x) await y; };\n"},
    {"typescript",
     "interface P { x: number }\nfunction f<T extends P>(p: T): number { return p.x; }\n"},
    {"tsx", "const C = (p: { n: string }) => <div className=\"a\">{p.n}</div>;\n"},
    {"go",
     "package m\n\nfunc F(xs []int) (s int) {\n\tfor _, x := range xs {\n\t\ts += "
     "x\n\t}\n\treturn\n}\n"},
    {"rust", "pub fn f<'a>(s: &'a str) -> Option<&'a str> { s.split(',').next() }\n"},
    {"java", "class A { static <T> T id(T t) { return t; } }\n"},
};

// Which npm package ships each language's tags.scm.
const std::map<std::string, std::string> kTagsQuery = {
    {"c", "tree-sitter-c"},
    {"cpp", "tree-sitter-cpp"},
    {"python", "tree-sitter-python"},
    {"javascript", "tree-sitter-javascript"},
    {"typescript", "tree-sitter-typescript"},
    {"tsx", "tree-sitter-typescript"},
    {"go", "tree-sitter-go"},
    {"rust", "tree-sitter-rust"},
    {"java", "tree-sitter-java"},
};

}  // namespace

TEST_CASE("all nine grammars are compiled in and accepted by the runtime") {
    REQUIRE(languages().size() == 9);
    std::unique_ptr<TSParser, ParserFree> parser(ts_parser_new());
    for (const auto& lang : languages()) {
        INFO(lang.name);
        REQUIRE(lang.grammar != nullptr);
        const uint32_t abi = ts_language_version(lang.grammar);
        CHECK(abi >= TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION);
        CHECK(abi <= TREE_SITTER_LANGUAGE_VERSION);
        REQUIRE(ts_parser_set_language(parser.get(), lang.grammar));
    }
}

TEST_CASE("each grammar parses idiomatic code without syntax errors") {
    std::unique_ptr<TSParser, ParserFree> parser(ts_parser_new());
    for (const auto& lang : languages()) {
        INFO(lang.name);
        const std::string& src = kSamples.at(std::string(lang.name));
        REQUIRE(ts_parser_set_language(parser.get(), lang.grammar));
        std::unique_ptr<TSTree, TreeFree> tree(ts_parser_parse_string(
            parser.get(), nullptr, src.data(), static_cast<uint32_t>(src.size())));
        REQUIRE(tree != nullptr);
        const TSNode root = ts_tree_root_node(tree.get());
        CHECK_FALSE(ts_node_has_error(root));
        CHECK(ts_node_child_count(root) > 0);
    }
    // And a real error is seen as one.
    REQUIRE(ts_parser_set_language(parser.get(), find_language("c")->grammar));
    const std::string broken = "int f( { return ; \n";
    std::unique_ptr<TSTree, TreeFree> tree(ts_parser_parse_string(
        parser.get(), nullptr, broken.data(), static_cast<uint32_t>(broken.size())));
    CHECK(ts_node_has_error(ts_tree_root_node(tree.get())));
}

TEST_CASE("each package's tags.scm compiles as a query against its grammar") {
    for (const auto& lang : languages()) {
        INFO(lang.name);
        const std::string path = std::string(OSPREY_DEPS_DIR) + "/npm/" +
                                 kTagsQuery.at(std::string(lang.name)) + "/queries/tags.scm";
        std::ifstream in(path);
        REQUIRE(in.good());
        std::stringstream text;
        text << in.rdbuf();
        const std::string source = text.str();
        uint32_t error_offset = 0;
        TSQueryError error = TSQueryErrorNone;
        std::unique_ptr<TSQuery, QueryFree> query(ts_query_new(lang.grammar, source.data(),
                                                               static_cast<uint32_t>(source.size()),
                                                               &error_offset, &error));
        INFO("error " << error << " at offset " << error_offset);
        CHECK(query != nullptr);
    }
}

TEST_CASE("languages are found by name and by extension") {
    CHECK(find_language("rust")->name == "rust");
    CHECK(find_language("cobol") == nullptr);
    CHECK(language_for_path("src/main.rs")->name == "rust");
    CHECK(language_for_path("include/x.H")->name == "cpp");
    CHECK(language_for_path("kernel.cu")->name == "cpp");
    CHECK(language_for_path("a/b/App.TSX")->name == "tsx");
    CHECK(language_for_path("setup.py")->name == "python");
    CHECK(language_for_path("lib.mjs")->name == "javascript");
    CHECK(language_for_path("README") == nullptr);
    CHECK(language_for_path("notes.md") == nullptr);
}
