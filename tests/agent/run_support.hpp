#pragma once
// Helpers for tests of `osprey run` with the scripted backend: DSML turn builders, script files,
// temporary git repositories, and stream-json parsing with schema validation.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "agent/events.hpp"
#include "agent/loop_guard.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace osprey::test {

struct Param {
    std::string name;
    std::string value;
    bool string_value = true;
};

// One <｜DSML｜invoke> block.
inline std::string invoke(const std::string& tool, const std::vector<Param>& params) {
    std::string s = "<｜DSML｜invoke name=\"" + tool + "\">\n";
    for (const auto& p : params) {
        s += "<｜DSML｜parameter name=\"" + p.name + "\" string=\"" +
             (p.string_value ? "true" : "false") + "\">" + p.value + "</｜DSML｜parameter>\n";
    }
    return s + "</｜DSML｜invoke>\n";
}

// A think-mode turn: reasoning, </think>, answer text, tool calls, end of sentence.
inline std::string turn(const std::string& reasoning, const std::string& content,
                        const std::vector<std::string>& invokes = {}) {
    std::string s = reasoning + "</think>" + content;
    if (!invokes.empty()) {
        s += "\n\n<｜DSML｜tool_calls>\n";
        for (const auto& i : invokes) {
            s += i;
        }
        s += "</｜DSML｜tool_calls>";
    }
    return s + "<｜end▁of▁sentence｜>";
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A temporary workspace (a git repository), a data folder and a script file.
struct Task {
    TempDir tmp;
    std::filesystem::path repo = tmp.path() / "repo";
    std::filesystem::path data = tmp.path() / "data";
    std::filesystem::path script = tmp.path() / "script.json";

    Task() {
        std::filesystem::create_directories(repo);
        write_text(repo / "README.md", "demo\n");
        const std::string cmd = "cd '" + repo.string() +
                                "' && git init -q && git -c user.name=t -c user.email=t@t add -A "
                                "&& git -c user.name=t -c user.email=t@t commit -qm init";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    void set_script(const std::vector<std::string>& turns) const {
        write_text(script, nlohmann::json(turns).dump());
    }
    std::vector<std::string> args(std::vector<std::string> extra) const {
        std::vector<std::string> a = {OSPREY_BINARY, "run",
                                      "--model",     "scripted:" + script.string(),
                                      "--tokenizer", OSPREY_TEST_TOKENIZER,
                                      "--cwd",       repo.string(),
                                      "--data-dir",  data.string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
};

// Parses stream-json output: one event per line, each validated against the schema, seq 0, 1, ...
inline std::vector<nlohmann::json> parse_events(const std::string& out) {
    std::vector<nlohmann::json> events;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        INFO(line);
        nlohmann::json ev = nlohmann::json::parse(line);
        CHECK(agent::validate_event(ev).empty());
        CHECK(ev.at("seq").get<std::int64_t>() == static_cast<std::int64_t>(events.size()));
        events.push_back(std::move(ev));
    }
    return events;
}

inline std::vector<nlohmann::json> of_type(const std::vector<nlohmann::json>& events,
                                           const std::string& type) {
    std::vector<nlohmann::json> r;
    for (const auto& e : events) {
        if (e.at("type") == type) {
            r.push_back(e);
        }
    }
    return r;
}

}  // namespace osprey::test
