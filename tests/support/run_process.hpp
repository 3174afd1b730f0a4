#pragma once
// Runs a program and captures its exit code, stdout and stderr: how integration tests drive the
// `osprey` binary exactly as a user or script would.

#include <string>
#include <vector>

namespace osprey::test {

struct ProcessResult {
    int exit_code = -1;  // 128 + signal number when killed by a signal
    std::string out;
    std::string err;
};

// argv[0] is the program path. `env_overrides` are "NAME=value" entries added to the environment.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env_overrides = {});

}  // namespace osprey::test
