#include "tools/codenav/languages.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

extern "C" {
const TSLanguage* tree_sitter_c();
const TSLanguage* tree_sitter_cpp();
const TSLanguage* tree_sitter_python();
const TSLanguage* tree_sitter_javascript();
const TSLanguage* tree_sitter_typescript();
const TSLanguage* tree_sitter_tsx();
const TSLanguage* tree_sitter_go();
const TSLanguage* tree_sitter_rust();
const TSLanguage* tree_sitter_java();
}

namespace osprey::tools {
namespace {

constexpr std::array<std::string_view, 1> kC = {".c"};
// .h is ambiguous; C++ parses almost all C headers, the reverse is not true.
constexpr std::array<std::string_view, 9> kCpp = {".cc", ".cpp", ".cxx", ".c++", ".h",
                                                  ".hh", ".hpp", ".hxx", ".cu"};
constexpr std::array<std::string_view, 2> kPython = {".py", ".pyi"};
constexpr std::array<std::string_view, 4> kJavaScript = {".js", ".mjs", ".cjs", ".jsx"};
constexpr std::array<std::string_view, 3> kTypeScript = {".ts", ".mts", ".cts"};
constexpr std::array<std::string_view, 1> kTsx = {".tsx"};
constexpr std::array<std::string_view, 1> kGo = {".go"};
constexpr std::array<std::string_view, 1> kRust = {".rs"};
constexpr std::array<std::string_view, 1> kJava = {".java"};

const std::array<Language, 9>& table() {
    static const std::array<Language, 9> kTable = {{
        {"c", tree_sitter_c(), kC},
        {"cpp", tree_sitter_cpp(), kCpp},
        {"python", tree_sitter_python(), kPython},
        {"javascript", tree_sitter_javascript(), kJavaScript},
        {"typescript", tree_sitter_typescript(), kTypeScript},
        {"tsx", tree_sitter_tsx(), kTsx},
        {"go", tree_sitter_go(), kGo},
        {"rust", tree_sitter_rust(), kRust},
        {"java", tree_sitter_java(), kJava},
    }};
    return kTable;
}

}  // namespace

std::span<const Language> languages() {
    return table();
}

const Language* find_language(std::string_view name) {
    for (const auto& lang : table()) {
        if (lang.name == name) {
            return &lang;
        }
    }
    return nullptr;
}

const Language* language_for_path(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& lang : table()) {
        if (std::find(lang.extensions.begin(), lang.extensions.end(), ext) !=
            lang.extensions.end()) {
            return &lang;
        }
    }
    return nullptr;
}

}  // namespace osprey::tools
