#include <catch2/catch.hpp>

#include "agent/loop_guard.hpp"
#include "agent/permissions.hpp"

using namespace osprey::agent;
using namespace std::chrono_literals;

TEST_CASE("permission modes parse and name bad input") {
    CHECK(parse_permission_mode("read-only") == PermissionMode::read_only);
    CHECK(parse_permission_mode("auto") == PermissionMode::automatic);
    CHECK(to_string(PermissionMode::ask) == "ask");
    CHECK_THROWS_WITH(parse_permission_mode("yolo"),
                      Catch::Contains("unknown permission mode 'yolo'"));
}

TEST_CASE("rules parse as TOOL or TOOL(PATTERN)") {
    auto r = parse_permission_rule("shell(make *)", true);
    CHECK(r.tool == "shell");
    CHECK(r.pattern == "make *");
    r = parse_permission_rule("write", false);
    CHECK(r.pattern == "*");
    CHECK_FALSE(r.allow);
    CHECK_THROWS_WITH(parse_permission_rule("shell(make", true),
                      Catch::Contains("must end with ')'"));
    CHECK_THROWS_WITH(parse_permission_rule("shell()", true), Catch::Contains("empty pattern"));
    CHECK_THROWS_WITH(parse_permission_rule("(x)", true), Catch::Contains("tool name"));
}

TEST_CASE("mode defaults: reads always pass; writes and commands depend on the mode") {
    const PermissionPolicy ro(PermissionMode::read_only);
    CHECK(ro.check("read", ToolAccess::read, "a.cpp").decision == Decision::allow);
    const auto denied = ro.check("shell", ToolAccess::execute, "make");
    CHECK(denied.decision == Decision::deny);
    CHECK(denied.reason.find("read-only") != std::string::npos);
    CHECK(denied.reason.find("--permission auto") != std::string::npos);
    CHECK(denied.reason.find("--allow 'shell(PATTERN)'") != std::string::npos);

    const PermissionPolicy ask(PermissionMode::ask);
    CHECK(ask.check("write", ToolAccess::write, "a").decision == Decision::ask);
    CHECK(PermissionPolicy(PermissionMode::automatic)
              .check("shell", ToolAccess::execute, "rm x")
              .decision == Decision::allow);
    CHECK(PermissionPolicy(PermissionMode::full)
              .check("git_commit", ToolAccess::write, "")
              .decision == Decision::allow);
}

TEST_CASE("deny rules win over allow rules, which win over the mode") {
    PermissionPolicy p(PermissionMode::read_only,
                       {parse_permission_rule("shell(make *)", true),
                        parse_permission_rule("shell(make install*)", false)});
    CHECK(p.check("shell", ToolAccess::execute, "make -j2 test").decision == Decision::allow);
    const auto v = p.check("shell", ToolAccess::execute, "make install");
    CHECK(v.decision == Decision::deny);
    CHECK(v.reason == "denied by the rule --deny 'shell(make install*)'");
    CHECK(p.check("shell", ToolAccess::execute, "cmake .").decision == Decision::deny);
    // A deny rule also stops reads.
    PermissionPolicy secrets(PermissionMode::full, {parse_permission_rule("read(*.env)", false)});
    CHECK(secrets.check("read", ToolAccess::read, "prod.env").decision == Decision::deny);

    PermissionPolicy ask(PermissionMode::ask);
    ask.allow_always("shell", "npm test*");
    CHECK(ask.check("shell", ToolAccess::execute, "npm test -- --watch").decision ==
          Decision::allow);
    CHECK(ask.check("shell", ToolAccess::execute, "npm publish").decision == Decision::ask);
}

TEST_CASE("glob matching") {
    CHECK(glob_match("*", ""));
    CHECK(glob_match("make *", "make all"));
    CHECK_FALSE(glob_match("make *", "cmake all"));
    CHECK(glob_match("src/*.cpp", "src/a/b.cpp"));
    CHECK(glob_match("a?c", "abc"));
    CHECK_FALSE(glob_match("a?c", "ac"));
    CHECK(glob_match("*a*b*c*", "xxaxxbxxcxx"));
    CHECK_FALSE(glob_match("*a*b*c*", "xxcxxbxxaxx"));
}

TEST_CASE("the loop guard warns on the third identical call and stops on the fourth") {
    LoopGuard g;
    const nlohmann::json args = {{"path", "a"}, {"start_line", 1}};
    CHECK(g.observe("read", args, "x") == LoopGuard::Verdict::ok);
    CHECK(g.observe("read", args, "x") == LoopGuard::Verdict::ok);
    CHECK(g.observe("read", args, "x") == LoopGuard::Verdict::warn);
    CHECK(g.observe("read", args, "x") == LoopGuard::Verdict::stop);
    // A different result (or call) starts the count again.
    LoopGuard h;
    h.observe("read", args, "x");
    h.observe("read", args, "x");
    CHECK(h.observe("read", args, "y") == LoopGuard::Verdict::ok);
    CHECK(h.repeats() == 1);
    // Argument order does not make calls different.
    const nlohmann::json reordered = nlohmann::json::parse(R"({"start_line":1,"path":"a"})");
    CHECK(h.observe("read", reordered, "y") == LoopGuard::Verdict::ok);
    CHECK(h.repeats() == 2);
    CHECK(LoopGuard::warning().find("fourth identical call ends the task") != std::string::npos);
}

TEST_CASE("budgets report the first one exceeded") {
    Budgets b;
    CHECK_FALSE(exceeded_budget(b, 1000, 1000000, 100000s).has_value());
    b.max_steps = 5;
    b.max_tokens = 100;
    b.timeout = 30s;
    CHECK_FALSE(exceeded_budget(b, 4, 99, 29s).has_value());
    CHECK(exceeded_budget(b, 5, 0, 0s) == "reached --max-steps 5");
    CHECK(exceeded_budget(b, 0, 100, 0s) == "reached --max-tokens 100 generated tokens");
    CHECK(exceeded_budget(b, 0, 0, 31s) == "reached --timeout 30s");
}
