#pragma once
// The tree-sitter grammars compiled into Osprey, found by name or by file extension.

#include <filesystem>
#include <span>
#include <string_view>

struct TSLanguage;

namespace osprey::tools {

struct Language {
    std::string_view name;                         // "cpp", "python", "tsx", ...
    const TSLanguage* grammar;                     // never null
    std::span<const std::string_view> extensions;  // ".cc", ".py", ... (lower case, with the dot)
};

// All compiled grammars, in a stable order.
std::span<const Language> languages();

// nullptr when unknown.
const Language* find_language(std::string_view name);
// By extension, case-insensitive (".H" = ".h" → cpp headers are treated as C++); nullptr when
// unknown.
const Language* language_for_path(const std::filesystem::path& path);

}  // namespace osprey::tools
