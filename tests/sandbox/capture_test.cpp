// Output caps and policy names.

#include <catch2/catch.hpp>

#include "sandbox/capture.hpp"
#include "sandbox/policy.hpp"

using namespace osprey::sandbox;

TEST_CASE("a capture under its cap keeps everything") {
    OutputCapture c(100);
    c.add("hello ");
    c.add("world");
    CHECK(c.text() == "hello world");
    CHECK(c.cut() == 0);
    CHECK(c.take_new() == "hello world");
    CHECK(c.take_new().empty());
}

TEST_CASE("a capture over its cap keeps head and tail with a marker") {
    OutputCapture c(10);
    for (char ch = 'a'; ch <= 'z'; ++ch) {
        c.add(std::string(1, ch));
    }
    CHECK(c.total() == 26);
    CHECK(c.cut() == 16);
    CHECK(c.text() == "abcde" + cut_marker(16) + "vwxyz");
    // Unpolled output is bounded too, and says what was dropped.
    const std::string fresh = c.take_new();
    CHECK(fresh.find("16 earlier bytes dropped") != std::string::npos);
    CHECK(fresh.substr(fresh.size() - 10) == "qrstuvwxyz");
}

TEST_CASE("a large single write is split between head and tail") {
    OutputCapture c(8);
    c.add("0123456789ABCDEF");
    CHECK(c.text() == "0123" + cut_marker(8) + "CDEF");
}

TEST_CASE("policy and requirement names round-trip") {
    for (const Mode m : {Mode::read_only, Mode::workspace_write, Mode::full}) {
        CHECK(parse_mode(to_string(m)) == m);
    }
    CHECK_FALSE(parse_mode("workspace_write"));
    for (const Requirement r :
         {Requirement::net, Requirement::fs, Requirement::seccomp, Requirement::pid}) {
        CHECK(parse_requirement(to_string(r)) == r);
    }
    CHECK_FALSE(parse_requirement("network"));
    const auto hidden = default_hidden_paths("/home/u");
    for (const char* p : {"/home/u/.ssh", "/home/u/.aws", "/home/u/.config/gcloud",
                          "/home/u/.netrc", "/home/u/.gnupg"}) {
        CHECK(std::find(hidden.begin(), hidden.end(), std::filesystem::path(p)) != hidden.end());
    }
}
