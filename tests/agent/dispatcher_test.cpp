#include <catch2/catch.hpp>

#include <sstream>

#include "agent/cli/dispatcher.hpp"
#include "agent/cli/osprey_cli.hpp"

using namespace osprey::agent::cli;

namespace {

struct Captured {
    int code = -1;
    std::string out;
    std::string err;
};

Captured run(const Dispatcher& d, std::vector<std::string_view> args) {
    std::ostringstream out;
    std::ostringstream err;
    Io io{out, err};
    Captured c;
    c.code = d.run(args, io);
    c.out = out.str();
    c.err = err.str();
    return c;
}

// A table with one command of each shape, recording what its handler saw.
struct Fixture {
    Dispatcher d{"tool", "test program"};
    std::vector<std::string> seen;

    Fixture() {
        Command echo;
        echo.name = "echo";
        echo.summary = "print arguments";
        echo.positional_usage = "[WORD...]";
        echo.max_positionals = 3;
        echo.options = {{"--upper", "", "shout"},
                        {"--sep", "TEXT", "separator"},
                        {"--tag", "NAME", "a tag", true}};
        echo.run = [this](const Args& a, Io& io) {
            seen = a.positionals();
            if (a.has("--upper")) {
                seen.push_back("UPPER");
            }
            if (auto s = a.value("--sep")) {
                seen.push_back("sep=" + *s);
            }
            for (const auto& t : a.values("--tag")) {
                seen.push_back("tag=" + t);
            }
            io.out << "ran\n";
            return 0;
        };
        Command strict;
        strict.name = "strict";
        strict.summary = "rejects its input";
        strict.run = [](const Args&, Io&) -> int { throw UsageError("--mode is required"); };
        Command leaf;
        leaf.name = "check";
        leaf.summary = "a nested command";
        leaf.run = [this](const Args&, Io&) {
            seen = {"nested"};
            return 7;
        };
        Command group;
        group.name = "sandbox";
        group.summary = "a command group";
        group.subcommands = {leaf};
        d.add(echo);
        d.add(strict);
        d.add(group);
        d.set_version_handler([](Io& io) {
            io.out << "tool 1.0\n";
            return 0;
        });
    }
};

}  // namespace

TEST_CASE("top-level help lists every command with its summary") {
    Fixture f;
    const auto c = run(f.d, {"--help"});
    CHECK(c.code == 0);
    CHECK(c.out.find("echo      print arguments") != std::string::npos);
    CHECK(c.out.find("strict    rejects its input") != std::string::npos);
    CHECK(c.out.find("sandbox   a command group") != std::string::npos);
    CHECK(run(f.d, {"-h"}).out == c.out);
}

TEST_CASE("no arguments prints usage to stderr and exits 2") {
    Fixture f;
    const auto c = run(f.d, {});
    CHECK(c.code == kExitUsage);
    CHECK(c.out.empty());
    CHECK(c.err.find("Usage: tool <command>") != std::string::npos);
}

TEST_CASE("the version flag runs the version handler and takes no arguments") {
    Fixture f;
    CHECK(run(f.d, {"--version"}).out == "tool 1.0\n");
    CHECK(run(f.d, {"-V"}).code == 0);
    CHECK(run(f.d, {"--version", "x"}).code == kExitUsage);
}

TEST_CASE("unknown commands and options exit 2 with a suggestion") {
    Fixture f;
    auto c = run(f.d, {"ecko"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("unknown command 'ecko' (did you mean 'echo'?)") != std::string::npos);
    CHECK(c.err.find("Run 'tool --help'") != std::string::npos);

    c = run(f.d, {"frobnicate"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("did you mean") == std::string::npos);

    c = run(f.d, {"--frob"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("unknown option '--frob'") != std::string::npos);

    c = run(f.d, {"echo", "--uper"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("tool echo: unknown option '--uper' (did you mean '--upper'?)") !=
          std::string::npos);
    CHECK(f.seen.empty());
}

TEST_CASE("options: flags, values both ways, repeats, --, and positional limits") {
    Fixture f;
    auto c = run(f.d, {"echo", "a", "--upper", "--sep=,", "--tag", "x", "--tag=y", "b"});
    CHECK(c.code == 0);
    CHECK(f.seen == std::vector<std::string>{"a", "b", "UPPER", "sep=,", "tag=x", "tag=y"});

    c = run(f.d, {"echo", "--", "--upper"});
    CHECK(c.code == 0);
    CHECK(f.seen == std::vector<std::string>{"--upper"});

    CHECK(run(f.d, {"echo", "--sep"}).err.find("option '--sep' needs a value (TEXT)") !=
          std::string::npos);
    CHECK(run(f.d, {"echo", "--upper=yes"}).err.find("option '--upper' takes no value") !=
          std::string::npos);
    CHECK(run(f.d, {"echo", "--sep", "a", "--sep", "b"}).err.find("given more than once") !=
          std::string::npos);
    c = run(f.d, {"echo", "1", "2", "3", "4"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("unexpected argument '4'") != std::string::npos);
}

TEST_CASE("command help, usage errors from handlers, nested commands") {
    Fixture f;
    auto c = run(f.d, {"echo", "--help"});
    CHECK(c.code == 0);
    CHECK(c.out.find("Usage: tool echo [options] [WORD...]") != std::string::npos);
    CHECK(c.out.find("--sep TEXT") != std::string::npos);
    CHECK(f.seen.empty());  // help does not run the command

    c = run(f.d, {"strict"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("tool strict: --mode is required") != std::string::npos);

    c = run(f.d, {"sandbox", "check"});
    CHECK(c.code == 7);
    CHECK(f.seen == std::vector<std::string>{"nested"});
    c = run(f.d, {"sandbox", "chek"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("tool sandbox: unknown command 'chek' (did you mean 'check'?)") !=
          std::string::npos);
    c = run(f.d, {"sandbox"});
    CHECK(c.code == kExitUsage);
    CHECK(c.err.find("missing command") != std::string::npos);
    CHECK(run(f.d, {"sandbox", "--help"}).out.find("Commands:\n  check") != std::string::npos);
}

TEST_CASE("closest_name only suggests near misses") {
    const std::vector<std::string> names = {"review", "run", "devices"};
    CHECK(closest_name("reveiw", names) == "review");
    CHECK(closest_name("rn", names) == "run");
    CHECK(closest_name("device", names) == "devices");
    CHECK_FALSE(closest_name("zzzzzz", names).has_value());
}

TEST_CASE("the osprey table has help, version and devices") {
    const Dispatcher cli = make_osprey_cli();
    const auto c = run(cli, {"--help"});
    CHECK(c.code == 0);
    for (const char* name : {"\n  version ", "\n  devices ", "\n  help "}) {
        CHECK(c.out.find(name) != std::string::npos);
    }
    const auto h = run(cli, {"help", "devices", "list"});
    CHECK(h.code == 0);
    CHECK(h.out.find("Usage: osprey devices list [options]") != std::string::npos);
    CHECK(run(cli, {"help", "nonesuch"}).code == kExitUsage);
    CHECK(run(cli, {"devices", "--backend", "tpu"}).code == kExitUsage);
}
