#pragma once
// Reading the input files and stdin of CLI commands. Unreadable input is a usage-class failure:
// InputError is reported by the command as "osprey CMD: MESSAGE" with exit code 2.

#include <stdexcept>
#include <string>

namespace osprey::agent::cli {

class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The whole file (binary), or stdin when `path` is "-". Throws InputError naming the path.
std::string read_input_file(const std::string& path, const char* what);
// All of stdin. Throws InputError when it cannot be read.
std::string read_stdin(const char* what);

}  // namespace osprey::agent::cli
