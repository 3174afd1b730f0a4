#include <catch2/catch.hpp>

#include "sandbox/environment.hpp"

using namespace osprey::sandbox;

TEST_CASE("credential-looking names are recognised") {
    for (const char* name : {"GITHUB_TOKEN", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY",
                             "DB_PASSWORD", "MYSQL_PWD_PASSWORD", "pgpassword", "NPM_TOKEN",
                             "GOOGLE_CREDENTIALS", "CLIENT_SECRET", "SSH_KEYS", "HTPASSWD"}) {
        INFO(name);
        CHECK(looks_like_credential(name));
    }
    for (const char* name : {"PATH", "HOME", "KEYBOARD_LAYOUT", "TOKENIZERS_PARALLELISM", "LANG"}) {
        INFO(name);
        CHECK_FALSE(looks_like_credential(name));
    }
}

TEST_CASE("the scrubbed environment keeps the allowlist and never a credential") {
    EnvironmentPolicy policy;
    policy.extra_allow = {"CARGO_HOME", "GITHUB_TOKEN"};
    const std::vector<std::string> env = {
        "PATH=/usr/bin:/bin", "HOME=/home/u",        "GITHUB_TOKEN=ghp_x",
        "CARGO_HOME=/c",      "LD_PRELOAD=/evil.so", "malformed",
        "=nameless",          "TERM=xterm",          "AWS_SECRET_ACCESS_KEY=s"};
    const auto out = scrub_environment(env, policy);
    CHECK(out == std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=/home/u", "CARGO_HOME=/c",
                                          "TERM=xterm"});
}
