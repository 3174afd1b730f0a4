#include "agent/cli/input_files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace osprey::agent::cli {

std::string read_input_file(const std::string& path, const char* what) {
    if (path == "-") {
        return read_stdin(what);
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw InputError(std::string("cannot read ") + what + " '" + path +
                         "': " + std::strerror(errno));
    }
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) {
        throw InputError(std::string("error reading ") + what + " '" + path + "'");
    }
    return s.str();
}

std::string read_stdin(const char* what) {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
        throw InputError(std::string("cannot read ") + what + " from stdin");
    }
    return data;
}

}  // namespace osprey::agent::cli
