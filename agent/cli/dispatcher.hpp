#pragma once
// The table-driven command-line dispatcher behind `osprey`. Each subcommand is a Command value
// (name, one-line summary, options, handler); later features add rows, not parsing code. Usage
// errors (unknown command or option, missing value, stray argument) exit with code 2 and a usage
// message.

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::agent::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown by parsing or by a handler that finds its arguments wrong: reported with usage, exit 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Option {
    std::string name;        // "--backend"
    std::string value_name;  // "NAME"; empty for a flag that takes no value
    std::string help;
    bool repeatable = false;
};

struct Command;

class Args {
public:
    bool has(std::string_view option) const { return values_.count(std::string(option)) != 0; }
    // The value of a value option (the last one given), or nullopt.
    std::optional<std::string> value(std::string_view option) const;
    std::vector<std::string> values(std::string_view option) const;
    const std::vector<std::string>& positionals() const { return positionals_; }
    bool help_requested() const { return help_; }

private:
    friend Args parse_args(const Command&, std::span<const std::string_view>);
    std::multimap<std::string, std::string, std::less<>> values_;
    std::vector<std::string> positionals_;
    bool help_ = false;
};

struct Io {
    std::ostream& out;
    std::ostream& err;
};

struct Command {
    std::string name;
    std::string summary;           // one line, shown by `osprey --help`
    std::string description;       // shown by `osprey NAME --help`; may be empty
    std::string positional_usage;  // e.g. "[COMMAND]"; empty when it takes none
    std::size_t max_positionals = 0;
    std::vector<Option> options;
    std::function<int(const Args&, Io&)> run;
    std::vector<Command> subcommands;  // when non-empty, `osprey NAME SUB ...` dispatches on these
};

// Parses options and positionals for `command` (not including its name); `--help`/`-h` before `--`
// set help_requested(). Throws UsageError.
Args parse_args(const Command& command, std::span<const std::string_view> args);

class Dispatcher {
public:
    Dispatcher(std::string program, std::string summary);

    void add(Command command);
    // The handler for `--version`/`-V` at the top level.
    void set_version_handler(std::function<int(Io&)> handler);
    // The command `osprey` runs without a command name: with no arguments when `applies()`
    // (otherwise the usage, exit 2), and whenever the first argument is an option other than
    // --help/--version (the command then rejects what it cannot do). `name` must be added.
    void set_default_command(std::string name, std::function<bool()> applies);

    // `args` excludes argv[0]. Returns the process exit code.
    int run(std::span<const std::string_view> args, Io& io) const;

    std::string help() const;
    // Help for a command path such as {"devices"}; nullopt when no such command.
    std::optional<std::string> help_for(std::span<const std::string_view> path) const;

private:
    int run_command(const Command& command, const std::string& path,
                    std::span<const std::string_view> args, Io& io) const;
    std::string command_help(const Command& command, const std::string& path) const;

    std::string program_;
    std::string summary_;
    std::vector<Command> commands_;
    std::function<int(Io&)> version_;
    std::string default_command_;
    std::function<bool()> default_applies_;
};

// The closest name to `word` among `names` within a small edit distance, for "did you mean".
std::optional<std::string> closest_name(std::string_view word,
                                        const std::vector<std::string>& names);

}  // namespace osprey::agent::cli
