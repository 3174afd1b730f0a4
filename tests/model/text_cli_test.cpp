// `osprey tokenize`, `detokenize`, `chat render`, `chat parse` driven from outside, as the contract
// checks drive them: exact output, exit 2 on unreadable input.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "tests/support/run_process.hpp"
#include "tests/support/temp_dir.hpp"

using osprey::test::run_process;

namespace {

const std::string kTokenizer = std::string(OSPREY_DEPS_DIR) + "/tokenizer/tokenizer.json";
const std::string kChat = std::string(OSPREY_SHARED_DIR) + "/golden/chat/";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write(const std::filesystem::path& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

// Runs `osprey ARGS... < stdin_file`.
osprey::test::ProcessResult osprey_with_stdin(const std::vector<std::string>& args,
                                              const std::filesystem::path& stdin_file) {
    std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$0\" \"$@\" < \"$OSPREY_STDIN\"",
                                  OSPREY_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {"OSPREY_STDIN=" + stdin_file.string()});
}

osprey::test::ProcessResult osprey_cli(std::vector<std::string> args) {
    args.insert(args.begin(), OSPREY_BINARY);
    return run_process(args);
}

}  // namespace

TEST_CASE("osprey tokenize and detokenize round-trip golden texts") {
    osprey::test::TempDir dir;
    const auto cases = nlohmann::json::parse(
        slurp(std::string(OSPREY_SHARED_DIR) + "/golden/tokenizer/cases.json"));
    REQUIRE(cases.size() > 10);
    for (std::size_t i = 0; i < cases.size(); i += 40) {
        const auto text = cases[i].at("text").get<std::string>();
        write(dir.path() / "text", text);
        const auto r = osprey_cli(
            {"tokenize", "--tokenizer", kTokenizer, "--text-file", (dir.path() / "text").string()});
        REQUIRE(r.exit_code == 0);
        CHECK(nlohmann::json::parse(r.out) == cases[i].at("ids"));
        // The same from stdin.
        const auto s =
            osprey_with_stdin({"tokenize", "--tokenizer", kTokenizer}, dir.path() / "text");
        CHECK(s.out == r.out);
        write(dir.path() / "ids", r.out);
        const auto d =
            osprey_with_stdin({"detokenize", "--tokenizer", kTokenizer}, dir.path() / "ids");
        REQUIRE(d.exit_code == 0);
        CHECK(d.out == text);
    }
}

TEST_CASE("tokenize and detokenize exit 2 on unreadable input") {
    osprey::test::TempDir dir;
    CHECK(
        osprey_cli({"tokenize", "--tokenizer", (dir.path() / "missing.json").string()}).exit_code ==
        2);
    write(dir.path() / "bad.json", "{not json");
    const auto bad = osprey_cli({"tokenize", "--tokenizer", (dir.path() / "bad.json").string(),
                                 "--text-file", (dir.path() / "bad.json").string()});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("not valid JSON") != std::string::npos);
    CHECK(osprey_cli({"tokenize", "--tokenizer", kTokenizer, "--text-file",
                      (dir.path() / "none").string()})
              .exit_code == 2);
    write(dir.path() / "latin1", "caf\xe9");
    CHECK(osprey_cli({"tokenize", "--tokenizer", kTokenizer, "--text-file",
                      (dir.path() / "latin1").string()})
              .exit_code == 2);
    write(dir.path() / "ids", "[1, \"x\"]");
    CHECK(osprey_with_stdin({"detokenize", "--tokenizer", kTokenizer}, dir.path() / "ids")
              .exit_code == 2);
    write(dir.path() / "ids", "[999999999]");
    CHECK(osprey_with_stdin({"detokenize", "--tokenizer", kTokenizer}, dir.path() / "ids")
              .exit_code == 2);
    CHECK(osprey_cli({"tokenize"}).exit_code == 2);
}

TEST_CASE("osprey chat render prints the official prompt byte for byte") {
    for (int n = 1; n <= 4; ++n) {
        const auto r = osprey_cli({"chat", "render", "--messages",
                                   kChat + "official/test_input_" + std::to_string(n) + ".json",
                                   "--mode", n == 4 ? "chat" : "think"});
        REQUIRE(r.exit_code == 0);
        CHECK(r.out == slurp(kChat + "official/test_output_" + std::to_string(n) + ".txt"));
    }
    osprey::test::TempDir dir;
    const auto cases = nlohmann::ordered_json::parse(slurp(kChat + "render_cases.json"));
    for (const auto& c : cases) {
        const bool thinking = c.at("thinking_mode") == "thinking";
        const std::string mode = !thinking                           ? "chat"
                                 : c.at("reasoning_effort") == "max" ? "max"
                                                                     : "think";
        write(dir.path() / "m.json", c.at("messages").dump());
        std::vector<std::string> args{
            "chat", "render", "--messages", (dir.path() / "m.json").string(), "--mode", mode};
        if (!c.at("drop_thinking").get<bool>()) {
            args.push_back("--keep-thinking");
        }
        const auto r = osprey_cli(args);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out == c.at("expected_prompt").get<std::string>());
    }
}

TEST_CASE("osprey chat render exits 2 on unreadable or invalid messages") {
    osprey::test::TempDir dir;
    CHECK(osprey_cli({"chat", "render", "--messages", (dir.path() / "none.json").string()})
              .exit_code == 2);
    write(dir.path() / "bad.json", "[{");
    CHECK(osprey_cli({"chat", "render", "--messages", (dir.path() / "bad.json").string()})
              .exit_code == 2);
    write(dir.path() / "role.json", R"([{"role": "robot", "content": "x"}])");
    const auto r =
        osprey_cli({"chat", "render", "--messages", (dir.path() / "role.json").string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown role 'robot'") != std::string::npos);
    CHECK(osprey_cli({"chat", "render", "--messages", (dir.path() / "role.json").string(), "--mode",
                      "fast"})
              .exit_code == 2);
}

TEST_CASE("osprey chat parse prints the official parser's message") {
    osprey::test::TempDir dir;
    const auto cases = nlohmann::json::parse(slurp(kChat + "parse_cases.json"));
    for (std::size_t i = 0; i < cases.size(); i += 9) {
        const auto& c = cases[i];
        write(dir.path() / "completion", c.at("completion").get<std::string>());
        const auto r = osprey_with_stdin(
            {"chat", "parse", "--mode", c.at("thinking_mode") == "thinking" ? "think" : "chat"},
            dir.path() / "completion");
        REQUIRE(r.exit_code == 0);
        const auto got = nlohmann::json::parse(r.out);
        const auto& expected = c.at("expected");
        CHECK(got.at("role") == expected.at("role"));
        CHECK(got.at("content") == expected.at("content"));
        CHECK(got.at("reasoning_content") == expected.at("reasoning_content"));
        REQUIRE(got.at("tool_calls").size() == expected.at("tool_calls").size());
        for (std::size_t k = 0; k < got.at("tool_calls").size(); ++k) {
            const auto& g = got.at("tool_calls")[k].at("function");
            const auto& x = expected.at("tool_calls")[k].at("function");
            CHECK(got.at("tool_calls")[k].at("type") == "function");
            CHECK(g.at("name") == x.at("name"));
            CHECK(nlohmann::json::parse(g.at("arguments").get<std::string>()) ==
                  nlohmann::json::parse(x.at("arguments").get<std::string>()));
        }
    }
    write(dir.path() / "bad",
          "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜end▁of▁sentence｜>");
    const auto bad = osprey_with_stdin({"chat", "parse"}, dir.path() / "bad");
    CHECK(bad.exit_code == 1);
    CHECK(nlohmann::json::parse(bad.out).at("error").get<std::string>().find(
              "inside a tool call") != std::string::npos);
}
