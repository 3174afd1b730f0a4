#include "agent/cli/bench_command.hpp"

namespace osprey::agent::cli {

Command bench_command(std::vector<Command> benchmarks) {
    Command c;
    c.name = "bench";
    c.summary = "benchmarks that print figures (recorded in docs/perf.md)";
    c.subcommands = std::move(benchmarks);
    return c;
}

}  // namespace osprey::agent::cli
