// `osprey review` with the scripted backend in temporary git repositories: a reviewer session that
// calls git_diff, definition and read and then answers; the three output formats (SARIF validated
// against the official SARIF 2.1.0 schema); invalid findings dropped and counted; exit codes by
// --fail-on; usage errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/review/report.hpp"
#include "agent/review/reviewer.hpp"
#include "tests/agent/run_support.hpp"

using nlohmann::json;
using namespace osprey;

namespace {

const std::string kMath =
    "#include \"math.h\"\n"
    "\n"
    "int add(int a, int b) {\n"
    "    return a + b;\n"
    "}\n"
    "\n"
    "int scale(int x) {\n"
    "    return x * 2;\n"
    "}\n";

// New-side lines 4 and 10-13 change.
const std::string kMathChanged =
    "#include \"math.h\"\n"
    "\n"
    "int add(int a, int b) {\n"
    "    return a - b;\n"
    "}\n"
    "\n"
    "int scale(int x) {\n"
    "    return x * 2;\n"
    "}\n"
    "\n"
    "int divide(int a, int b) {\n"
    "    return a / b;\n"
    "}\n";

json finding(const std::string& title, const std::string& severity, const std::string& category,
             const std::string& file, int start, int end) {
    return {{"title", title},       {"body", "Details of " + title},
            {"severity", severity}, {"confidence", 0.8},
            {"category", category}, {"file", file},
            {"start_line", start},  {"end_line", end}};
}

json answer() {
    json findings = json::array();
    findings.push_back(
        finding("add subtracts instead of adding", "high", "bug", "src/math.c", 4, 4));
    json f = finding("divide by zero", "medium", "bug", "src/math.c", 8, 12);
    f["suggestion"] = "    return b == 0 ? 0 : a / b;";
    findings.push_back(f);
    findings.push_back(finding("name the divisor", "low", "style", "src/math.c", 11, 11));
    findings.push_back(finding("ghost problem", "critical", "security", "ghost.c", 1, 1));
    findings.push_back(finding("unchanged code", "critical", "bug", "src/math.c", 7, 8));
    findings.push_back(finding("past the end", "critical", "bug", "src/math.c", 99, 100));
    findings.push_back(finding("not in the change", "critical", "bug", "src/main.c", 1, 2));
    return {{"summary", "add is broken; divide needs a guard."},
            {"verdict", "request-changes"},
            {"findings", findings}};
}

struct ReviewRepo {
    test::TempDir tmp;
    std::filesystem::path repo = tmp.path() / "repo";
    std::filesystem::path script = tmp.path() / "script.json";
    std::filesystem::path cache = tmp.path() / "cache";

    ReviewRepo() {
        test::write_text(repo / "src/math.c", kMath);
        test::write_text(repo / "src/math.h", "int add(int a, int b);\nint scale(int x);\n");
        test::write_text(repo / "src/main.c",
                         "#include \"math.h\"\nint main(void) { return add(1, 2) - 3; }\n");
        git("init -q");
        git("add -A");
        git("commit -qm init");
        test::write_text(repo / "src/math.c", kMathChanged);
    }
    void git(const std::string& args) const {
        const std::string cmd =
            "cd '" + repo.string() +
            "' && git -c user.name=t -c user.email=t@t -c init.defaultBranch=main " + args;
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    void set_script(const std::vector<std::string>& turns) const {
        test::write_text(script, json(turns).dump());
    }
    // The session the acceptance asks for: git_diff, definition, read, then the answer.
    void standard_script(const json& final_answer = answer()) const {
        set_script({test::turn("Look at the change and what it touches.", "",
                               {test::invoke("git_diff", {}),
                                test::invoke("definition", {{"name", "add"}}),
                                test::invoke("read", {{"path", "src/math.c"}})}),
                    test::turn("Two bugs.", final_answer.dump())});
    }
    test::ProcessResult review(std::vector<std::string> extra) const {
        std::vector<std::string> a = {OSPREY_BINARY, "review",
                                      "--model",     "scripted:" + script.string(),
                                      "--tokenizer", OSPREY_TEST_TOKENIZER,
                                      "--cwd",       repo.string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return test::run_process(a, {"XDG_CACHE_HOME=" + cache.string()});
    }
};

void check_kept(const json& report) {
    REQUIRE(report.at("findings").size() == 3);
    const json& f0 = report.at("findings")[0];
    CHECK(f0.at("title") == "add subtracts instead of adding");
    CHECK(f0.at("start_line") == 4);
    CHECK(f0.at("end_line") == 4);
    const json& f1 = report.at("findings")[1];
    CHECK(f1.at("title") == "divide by zero");
    CHECK(f1.at("start_line") == 10);  // clamped from 8-12 to the changed lines
    CHECK(f1.at("end_line") == 12);
    CHECK(f1.at("suggestion") == "    return b == 0 ? 0 : a / b;");
    CHECK(report.at("findings")[2].at("severity") == "low");
    CHECK(report.at("dropped_count") == 4);
    std::string reasons;
    for (const auto& d : report.at("dropped")) {
        reasons += d.at("reason").get<std::string>() + "\n";
    }
    CHECK_THAT(reasons, Catch::Contains("no file 'ghost.c'"));
    CHECK_THAT(reasons, Catch::Contains("lines 7-8 of src/math.c are outside the change"));
    CHECK_THAT(reasons, Catch::Contains("line 99 is not in src/math.c"));
    CHECK_THAT(reasons, Catch::Contains("src/main.c is not part of the change"));
}

std::filesystem::path sarif_schema() {
    return std::filesystem::path(OSPREY_DEPS_DIR) /
           "npm/microsoft-jest-sarif/lib/schemas/"
           "sarif-2.1.0-rtm.5.json";
}

// 0 valid, 1 invalid, -1 no validator.
int validate_sarif(const std::filesystem::path& file) {
    const auto r = test::run_process(
        {"/usr/bin/python3", "-c",
         "import json, sys, jsonschema\n"
         "try:\n"
         "    jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))\n"
         "except jsonschema.ValidationError as e:\n"
         "    print(e.message); sys.exit(1)\n",
         file.string(), sarif_schema().string()});
    if (r.exit_code == 0) {
        return 0;
    }
    return r.exit_code == 1 && r.err.empty() ? 1 : -1;
}

}  // namespace

TEST_CASE("review: a scripted session uses git_diff, definition and read (JSON report)") {
    ReviewRepo r;
    r.standard_script();
    const auto res = r.review({"--format", "json"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);  // no --fail-on
    CHECK_THAT(res.err, Catch::Contains("[git_diff] {}"));
    CHECK_THAT(res.err, Catch::Contains("[definition] {\"name\":\"add\"}"));
    CHECK_THAT(res.err, Catch::Contains("[read] {\"path\":\"src/math.c\"}"));
    CHECK_THAT(res.err, !Catch::Contains("error:"));  // every tool call succeeded
    const json report = json::parse(res.out);
    CHECK(report.at("verdict") == "request-changes");
    CHECK(report.at("summary") == "add is broken; divide needs a guard.");
    CHECK(report.at("target") == "HEAD vs working tree");
    CHECK(report.at("revision").is_null());
    check_kept(report);
}

TEST_CASE("review: Markdown report") {
    ReviewRepo r;
    r.standard_script();
    const auto res = r.review({"--format", "md"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    CHECK_THAT(res.out, Catch::StartsWith("# Osprey review: request-changes"));
    CHECK_THAT(res.out, Catch::Contains("- Findings: 3"));
    CHECK_THAT(res.out, Catch::Contains("- Dropped as invalid: 4"));
    CHECK_THAT(res.out, Catch::Contains("### 1. [HIGH] add subtracts instead of adding"));
    CHECK_THAT(res.out, Catch::Contains("`src/math.c:10-12` · bug · confidence 0.80"));
    CHECK_THAT(res.out, Catch::Contains("    return a - b;"));  // the code of the lines
    CHECK_THAT(res.out, Catch::Contains("## Dropped findings (4)"));
    CHECK_THAT(res.out, Catch::Contains("- ghost problem (`ghost.c:1`): no file 'ghost.c'"));
}

TEST_CASE("review: SARIF 2.1.0 validates against the official schema, with stable fingerprints") {
    ReviewRepo r;
    r.standard_script();
    const auto out = r.tmp.path() / "out" / "review.sarif";
    std::filesystem::create_directories(out.parent_path());
    const auto res = r.review({"--format", "sarif", "--output", out.string()});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    CHECK(res.out.empty());
    CHECK_THAT(res.err, Catch::Contains("3 findings (4 dropped as invalid)"));
    const json sarif = json::parse(test::read_text(out));
    CHECK(sarif.at("version") == "2.1.0");
    const json& run = sarif.at("runs")[0];
    CHECK(run.at("tool").at("driver").at("name") == "osprey-review");
    CHECK(run.at("tool").at("driver").at("rules").size() == 5);
    const json& results = run.at("results");
    REQUIRE(results.size() == 3);
    CHECK(results[0].at("level") == "error");    // high
    CHECK(results[1].at("level") == "warning");  // medium
    CHECK(results[2].at("level") == "note");     // low
    CHECK(results[2].at("ruleId") == "style");
    const json& loc = results[1].at("locations")[0].at("physicalLocation");
    CHECK(loc.at("artifactLocation").at("uri") == "src/math.c");
    CHECK(loc.at("region").at("startLine") == 10);
    CHECK(loc.at("region").at("endLine") == 12);
    CHECK(run.at("properties").at("droppedFindings") == 4);
    CHECK(run.at("invocations")[0].at("toolExecutionNotifications").size() == 4);

    // The same review again: the same fingerprints.
    const auto again = r.review({"--format", "sarif"});
    REQUIRE(again.exit_code == 0);
    const json sarif2 = json::parse(again.out);
    for (std::size_t i = 0; i < results.size(); ++i) {
        CHECK(results[i].at("partialFingerprints") ==
              sarif2.at("runs")[0].at("results")[i].at("partialFingerprints"));
    }

    if (!std::filesystem::exists(sarif_schema())) {
        WARN("SKIP: SARIF schema validation: " << sarif_schema()
                                               << " is missing (scripts/setup fetches it)");
        return;
    }
    const int valid = validate_sarif(out);
    if (valid < 0) {
        WARN("SKIP: SARIF schema validation: python3-jsonschema is not installed");
        return;
    }
    CHECK(valid == 0);
    // The validator is live: a wrong level is refused.
    json broken = sarif;
    broken["runs"][0]["results"][0]["level"] = "fatal";
    const auto bad = r.tmp.path() / "broken.sarif";
    test::write_text(bad, broken.dump());
    CHECK(validate_sarif(bad) == 1);
}

TEST_CASE("review: fingerprints follow the code, not the line numbers") {
    agent::review::Finding a;
    a.title = "Divide by zero!";
    a.category = "bug";
    a.file = "src/math.c";
    a.code = "    return a / b;\n";
    a.start_line = 12;
    a.end_line = 12;
    agent::review::Finding b = a;
    b.start_line = b.end_line = 40;
    b.title = "divide  by zero";
    b.code = "  return a / b;  \n";
    CHECK(agent::review::fingerprint(a) == agent::review::fingerprint(b));
    b.code = "    return a % b;\n";
    CHECK(agent::review::fingerprint(a) != agent::review::fingerprint(b));
    b = a;
    b.category = "security";
    CHECK(agent::review::fingerprint(a) != agent::review::fingerprint(b));
    CHECK(agent::review::fingerprint(a).size() == 16);
}

TEST_CASE("review: exit codes by --fail-on and --min-severity") {
    ReviewRepo r;
    r.standard_script();
    CHECK(r.review({"--fail-on", "high"}).exit_code == 1);
    CHECK(r.review({"--fail-on", "medium"}).exit_code == 1);
    CHECK(r.review({"--fail-on", "critical"}).exit_code == 0);  // the critical ones were invalid
    CHECK(r.review({"--fail-on", "none"}).exit_code == 0);
    const auto filtered = r.review({"--format", "json", "--min-severity", "medium"});
    REQUIRE(filtered.exit_code == 0);
    const json report = json::parse(filtered.out);
    CHECK(report.at("findings").size() == 2);
    CHECK(report.at("below_min_severity") == 1);
    // Only reported findings count.
    CHECK(r.review({"--min-severity", "high", "--fail-on", "low"}).exit_code == 1);
    CHECK(r.review({"--min-severity", "critical", "--fail-on", "low"}).exit_code == 0);
}

TEST_CASE("review: commit and range modes check findings against the reviewed revision") {
    ReviewRepo r;
    r.git("add -A");
    r.git("commit -qm change");
    // The working tree moves on; the review must read the committed revision.
    test::write_text(r.repo / "src/math.c", "int nothing;\n");
    r.standard_script();
    for (const std::vector<std::string>& mode :
         {std::vector<std::string>{"--commit", "HEAD"},
          std::vector<std::string>{"--range", "HEAD~1..HEAD"},
          std::vector<std::string>{"--range", "HEAD~1...HEAD"}}) {
        std::vector<std::string> args = mode;
        args.insert(args.end(), {"--format", "json"});
        const auto res = r.review(args);
        INFO(mode[0] << " " << mode[1] << "\n" << res.err);
        REQUIRE(res.exit_code == 0);
        const json report = json::parse(res.out);
        check_kept(report);
        CHECK(report.at("revision").get<std::string>().size() == 40);
    }
    // --paths narrows the change: math.c is outside, so its findings are dropped.
    const auto narrowed = r.review({"--commit", "HEAD", "--format", "json", "--paths", "*.h"});
    REQUIRE(narrowed.exit_code == 0);
    CHECK(json::parse(narrowed.out).at("findings").empty());
}

TEST_CASE("review: --all reviews file groups of the repository") {
    ReviewRepo r;
    json a = answer();
    r.set_script({test::turn("Files look fine.", a.dump())});
    const auto res = r.review({"--all", "--paths", "src/math.*", "--format", "json"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    const json report = json::parse(res.out);
    CHECK(report.at("target") == "the whole repository");
    // No change to clamp to: lines 7-8 are valid; main.c is outside --paths.
    CHECK(report.at("findings").size() == 4);
    CHECK(report.at("dropped_count") == 3);
}

TEST_CASE("review: an invalid final answer is a clear failure") {
    ReviewRepo r;
    r.set_script({test::turn("Hmm.", "Looks good to me!")});
    auto res = r.review({});
    CHECK(res.exit_code == 1);
    CHECK_THAT(res.err, Catch::Contains("the final answer is not valid JSON"));
    json bad = answer();
    bad["verdict"] = "lgtm";
    r.set_script({test::turn("Hmm.", bad.dump())});
    res = r.review({});
    CHECK(res.exit_code == 1);
    CHECK_THAT(res.err, Catch::Contains("does not match the findings schema"));
    CHECK_THAT(res.err, Catch::Contains("verdict"));
}

TEST_CASE("review: usage errors exit 2 with a clear message") {
    ReviewRepo r;
    r.standard_script();
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"--all", "--commit", "HEAD"}, "choose one of"},
        {{"--fail-on", "severe"}, "unknown level 'severe'"},
        {{"--min-severity", "urgent"}, "unknown level 'urgent'"},
        {{"--format", "xml"}, "--format must be md, json or sarif"},
        {{"--commit", "no-such-rev"}, "unknown revision 'no-such-rev'"},
        {{"--range", "HEAD"}, "--range needs A..B"},
        {{"--range", "HEAD..nope"}, "unknown revision 'nope'"},
        {{"--base", "nope"}, "unknown revision 'nope'"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--seed", "-1"}, "--seed needs an integer"},
    };
    for (const auto& c : cases) {
        const auto res = r.review(c.args);
        INFO(c.args[0] << "\n" << res.err);
        CHECK(res.exit_code == 2);
        CHECK_THAT(res.err, Catch::Contains(c.message));
    }
    // Not a git repository.
    const auto plain = r.tmp.path() / "plain";
    std::filesystem::create_directories(plain);
    const auto res =
        test::run_process({OSPREY_BINARY, "review", "--model", "scripted:" + r.script.string(),
                           "--tokenizer", OSPREY_TEST_TOKENIZER, "--cwd", plain.string()});
    CHECK(res.exit_code == 2);
    CHECK_THAT(res.err, Catch::Contains("not a git repository"));
}

TEST_CASE("review: --all groups files by folder within the token budget") {
    test::TempDir tmp;
    const auto root = tmp.path() / "repo";
    const std::string body(400, 'x');  // about 100 tokens each
    for (const char* f :
         {"a/one.txt", "a/two.txt", "a/three.txt", "b/four.txt", "b/five.txt", "top.txt"}) {
        test::write_text(root / f, body + "\n");
    }
    test::write_text(root / "b/blob.bin", std::string("\0\1\2", 3));
    test::write_text(root / "empty.txt", "");
    const auto groups = agent::review::file_groups(root, {}, 256);
    std::vector<std::string> seen;
    for (const auto& g : groups) {
        INFO(json(g).dump());
        CHECK(g.size() <= 2);  // 2 x ~100 tokens fit in 256, 3 do not
        // A group never mixes folders while its own folder still has files left.
        seen.insert(seen.end(), g.begin(), g.end());
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::string>{"a/one.txt", "a/three.txt", "a/two.txt", "b/five.txt",
                                           "b/four.txt", "top.txt"});
    // Same-folder files come together: b's two files share a group.
    bool b_together = false;
    for (const auto& g : groups) {
        b_together = b_together || g == std::vector<std::string>{"b/five.txt", "b/four.txt"};
    }
    CHECK(b_together);
    const auto only_a = agent::review::file_groups(root, {"a/**"}, 100000);
    REQUIRE(only_a.size() == 1);
    CHECK(only_a[0].size() == 3);
}

TEST_CASE("review: --all with several groups merges the answers") {
    ReviewRepo r;
    json first = {
        {"summary", "Group one is fine."}, {"verdict", "approve"}, {"findings", json::array()}};
    json second = answer();
    r.set_script({test::turn("One.", first.dump()), test::turn("Two.", second.dump())});
    // A file past the budget is a group of its own; the other three share one.
    test::write_text(r.repo / "src/big.c", "/* " + std::string(1500, 'x') + " */\n");
    const auto res =
        r.review({"--all", "--paths", "src/**", "--group-tokens", "256", "--format", "json"});
    INFO(res.err);
    const auto groups = agent::review::file_groups(r.repo, {"src/**"}, 256);
    if (groups.size() != 2) {
        // The script holds two answers: another grouping would make this test meaningless.
        FAIL("expected two file groups, got " << json(groups).dump());
    }
    REQUIRE(res.exit_code == 0);
    CHECK_THAT(res.err, Catch::Contains("review: group 2/2"));
    const json report = json::parse(res.out);
    CHECK(report.at("verdict") == "request-changes");  // the worst of the groups
    CHECK_THAT(report.at("summary").get<std::string>(),
               Catch::Contains("Group one is fine.") &&
                   Catch::Contains("add is broken; divide needs a guard."));
    CHECK(report.at("findings").size() == 5);  // main.c is reviewed too here
}

TEST_CASE("review: an empty change is approved without running the model") {
    ReviewRepo r;
    r.git("add -A");
    r.git("commit -qm change");
    r.set_script({});  // any model turn would fail: the script is empty
    const auto res = r.review({"--format", "json", "--fail-on", "info"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    const json report = json::parse(res.out);
    CHECK(report.at("verdict") == "approve");
    CHECK(report.at("findings").empty());
    CHECK_THAT(report.at("summary").get<std::string>(), Catch::Contains("changes no file"));
}

TEST_CASE("review: SIGTERM during the review ends it with 143") {
    ReviewRepo r;
    std::string long_reasoning;
    for (int i = 0; i < 300; ++i) {
        long_reasoning += "step " + std::to_string(i) + ", ";
    }
    r.set_script({test::turn("Diff first.", "", {test::invoke("git_diff", {})}),
                  test::turn(long_reasoning, answer().dump())});
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const std::vector<std::string> argv = {OSPREY_BINARY,   "review",
                                           "--model",       "scripted:" + r.script.string(),
                                           "--tokenizer",   OSPREY_TEST_TOKENIZER,
                                           "--cwd",         r.repo.string(),
                                           "--token-delay", "20"};
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        const int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        close(fds[0]);
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    // Once the first tool call is logged the reviewer is running (signals are handled).
    std::string err;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (err.find("[git_diff]") == std::string::npos && std::chrono::steady_clock::now() < end) {
        pollfd p{fds[0], POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            char buf[4096];
            const ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            err.append(buf, static_cast<std::size_t>(n));
        }
    }
    REQUIRE(err.find("[git_diff]") != std::string::npos);
    kill(pid, SIGTERM);
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
        err.append(buf, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    INFO(err);
    REQUIRE(WIFEXITED(status));  // it ended by itself, not killed by the signal
    CHECK(WEXITSTATUS(status) == 143);
    CHECK_THAT(err, Catch::Contains("osprey review: interrupted"));
}
