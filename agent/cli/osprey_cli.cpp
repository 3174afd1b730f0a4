#include "agent/cli/osprey_cli.hpp"

#include <memory>

#include "agent/cli/bench_command.hpp"
#include "agent/cli/chat_commands.hpp"
#include "agent/cli/codenav_bench.hpp"
#include "agent/cli/constraint_bench.hpp"
#include "agent/cli/info_commands.hpp"
#include "agent/cli/interactive/session_loop.hpp"
#include "agent/cli/memory_bench.hpp"
#include "agent/cli/model_commands.hpp"
#include "agent/cli/notes_command.hpp"
#include "agent/cli/review_command.hpp"
#include "agent/cli/run_command.hpp"
#include "agent/cli/sandbox_commands.hpp"
#include "agent/cli/sessions_command.hpp"
#include "agent/cli/tokenizer_bench.hpp"
#include "agent/cli/tokenizer_commands.hpp"
#include "agent/cli/tool_command.hpp"

namespace osprey::agent::cli {

Dispatcher make_osprey_cli() {
    Dispatcher cli("osprey", "agent runtime with an in-process DeepSeek-V4-Flash engine");
    cli.add(version_command());
    cli.add(devices_command());
    cli.add(tokenize_command());
    cli.add(detokenize_command());
    cli.add(chat_command());
    cli.add(model_command());
    cli.add(run_command());
    cli.add(interactive::interactive_command());
    cli.add(review_command());
    cli.add(tool_command());
    cli.add(sessions_command());
    cli.add(notes_command());
    cli.add(sandbox_command());
    cli.add(
        bench_command({tokenizer_bench_command(), codenav_bench_command(), sandbox_bench_command(),
                       memory_bench_command(), constraint_bench_command()}));

    // `osprey help [COMMAND...]` needs the finished table, so it sees a copy made after the others.
    auto table = std::make_shared<Dispatcher>(cli);
    Command help;
    help.name = "help";
    help.summary = "show help for osprey or for a command";
    help.positional_usage = "[COMMAND [SUBCOMMAND]]";
    help.max_positionals = 2;
    help.run = [table](const Args& args, Io& io) {
        std::vector<std::string_view> path(args.positionals().begin(), args.positionals().end());
        if (auto text = table->help_for(path)) {
            io.out << *text;
            return kExitOk;
        }
        throw UsageError("unknown command '" + args.positionals().back() + "'");
    };
    cli.add(help);
    cli.set_version_handler([](Io& io) { return print_version(io, false); });
    cli.set_default_command("interactive", interactive::on_terminal);
    return cli;
}

}  // namespace osprey::agent::cli
