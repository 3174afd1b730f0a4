// The `osprey` executable: parse the command line, dispatch, map failures to exit codes.
#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "agent/cli/osprey_cli.hpp"

int main(int argc, char** argv) {
    namespace cli = osprey::agent::cli;
    cli::Io io{std::cout, std::cerr};
    try {
        const std::vector<std::string_view> args(argv + 1, argv + argc);
        const cli::Dispatcher dispatcher = cli::make_osprey_cli();
        const int code = dispatcher.run(args, io);
        std::cout.flush();
        return code;
    } catch (const std::exception& e) {
        std::cerr << "osprey: error: " << e.what() << "\n";
        return cli::kExitFailure;
    }
}
