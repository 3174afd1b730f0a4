#pragma once
// Helpers for the tool tests: a workspace in a temporary folder, files written into it, and a call
// through the default registry (schema validation, permission check and output cap included).

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/temp_dir.hpp"
#include "tools/core/registry.hpp"

namespace osprey::test {

inline void put(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << content;
}

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

struct ToolFixture {
    TempDir dir;
    tools::Registry registry = tools::make_default_registry();
    tools::ToolContext ctx{tools::Workspace(dir.path())};

    ToolFixture() { ctx.index_path = dir.path() / ".osprey-index.sqlite"; }
    std::filesystem::path root() const { return ctx.workspace.root(); }
    void file(const std::string& rel, const std::string& content) { put(root() / rel, content); }
    tools::ToolResult call(const std::string& name, const nlohmann::json& args) {
        return registry.call(name, args, ctx);
    }
    // The error message of a call that must fail with ToolError (not ArgumentError).
    std::string failure(const std::string& name, const nlohmann::json& args) {
        try {
            call(name, args);
        } catch (const tools::ArgumentError& e) {
            return std::string("ARGUMENT ERROR: ") + e.what();
        } catch (const tools::ToolError& e) {
            return e.what();
        }
        return "NO ERROR";
    }
};

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace osprey::test
