#include "agent/cli/dispatcher.hpp"

#include <algorithm>
#include <sstream>

namespace osprey::agent::cli {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

const Command* find_command(const std::vector<Command>& commands, std::string_view name) {
    const auto it = std::find_if(commands.begin(), commands.end(),
                                 [&](const Command& c) { return c.name == name; });
    return it == commands.end() ? nullptr : &*it;
}

std::vector<std::string> names_of(const std::vector<Command>& commands) {
    std::vector<std::string> names;
    for (const auto& c : commands) {
        names.push_back(c.name);
    }
    return names;
}

bool is_help(std::string_view arg) {
    return arg == "--help" || arg == "-h";
}

void append_command_list(std::ostringstream& out, const std::vector<Command>& commands) {
    std::size_t width = 0;
    for (const auto& c : commands) {
        width = std::max(width, c.name.size());
    }
    for (const auto& c : commands) {
        out << "  " << c.name << std::string(width - c.name.size() + 3, ' ') << c.summary << "\n";
    }
}

// "unknown command 'x'" + suggestion + hint, as a UsageError message.
std::string unknown_command(const std::string& path, std::string_view word,
                            const std::vector<Command>& commands) {
    std::string msg = "unknown command '" + std::string(word) + "'";
    if (auto near = closest_name(word, names_of(commands))) {
        msg += " (did you mean '" + *near + "'?)";
    }
    return msg + "\nRun '" + path + " --help' for the list of commands.";
}

}  // namespace

std::optional<std::string> Args::value(std::string_view option) const {
    const auto [first, last] = values_.equal_range(option);
    if (first == last) {
        return std::nullopt;
    }
    return std::prev(last)->second;
}

std::vector<std::string> Args::values(std::string_view option) const {
    std::vector<std::string> out;
    const auto [first, last] = values_.equal_range(option);
    for (auto it = first; it != last; ++it) {
        out.push_back(it->second);
    }
    return out;
}

Args parse_args(const Command& command, std::span<const std::string_view> args) {
    Args parsed;
    bool options_done = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (options_done || arg.size() < 2 || arg[0] != '-') {
            if (parsed.positionals_.size() >= command.max_positionals) {
                throw UsageError("unexpected argument '" + std::string(arg) + "'");
            }
            parsed.positionals_.emplace_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (is_help(arg)) {
            parsed.help_ = true;
            continue;
        }
        const auto eq = arg.find('=');
        const std::string name(arg.substr(0, eq));
        const auto opt = std::find_if(command.options.begin(), command.options.end(),
                                      [&](const Option& o) { return o.name == name; });
        if (opt == command.options.end()) {
            std::vector<std::string> names;
            for (const auto& o : command.options) {
                names.push_back(o.name);
            }
            std::string msg = "unknown option '" + name + "'";
            if (auto near = closest_name(name, names)) {
                msg += " (did you mean '" + *near + "'?)";
            }
            throw UsageError(msg);
        }
        std::string value;
        if (opt->value_name.empty()) {
            if (eq != std::string_view::npos) {
                throw UsageError("option '" + name + "' takes no value");
            }
        } else if (eq != std::string_view::npos) {
            value = std::string(arg.substr(eq + 1));
        } else if (i + 1 < args.size()) {
            value = std::string(args[++i]);
        } else {
            throw UsageError("option '" + name + "' needs a value (" + opt->value_name + ")");
        }
        if (!opt->repeatable && parsed.has(name)) {
            throw UsageError("option '" + name + "' given more than once");
        }
        parsed.values_.emplace(name, std::move(value));
    }
    return parsed;
}

std::optional<std::string> closest_name(std::string_view word,
                                        const std::vector<std::string>& names) {
    std::optional<std::string> best;
    std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& name : names) {
        const std::size_t d = edit_distance(word, name);
        if (d < best_distance) {
            best_distance = d;
            best = name;
        }
    }
    return best;
}

Dispatcher::Dispatcher(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void Dispatcher::add(Command command) {
    commands_.push_back(std::move(command));
}

void Dispatcher::set_version_handler(std::function<int(Io&)> handler) {
    version_ = std::move(handler);
}

std::string Dispatcher::help() const {
    std::ostringstream out;
    out << program_ << " — " << summary_ << "\n\n"
        << "Usage: " << program_ << " <command> [options] [arguments]\n"
        << "       " << program_ << " --help | --version\n\nCommands:\n";
    append_command_list(out, commands_);
    out << "\nOptions:\n"
        << "  -h, --help      show this help (after a command: that command's help)\n"
        << "  -V, --version   show version, git commit and compiled backends\n\n"
        << "Run '" << program_ << " <command> --help' for a command's options.\n";
    return out.str();
}

std::string Dispatcher::command_help(const Command& command, const std::string& path) const {
    std::ostringstream out;
    out << "Usage: " << path;
    if (!command.subcommands.empty()) {
        out << " <command>";
    }
    if (!command.options.empty()) {
        out << " [options]";
    }
    if (!command.positional_usage.empty()) {
        out << " " << command.positional_usage;
    }
    out << "\n\n" << command.summary << "\n";
    if (!command.description.empty()) {
        out << "\n" << command.description << "\n";
    }
    if (!command.subcommands.empty()) {
        out << "\nCommands:\n";
        append_command_list(out, command.subcommands);
    }
    out << "\nOptions:\n";
    std::vector<std::pair<std::string, std::string>> rows;
    for (const auto& o : command.options) {
        rows.emplace_back(o.value_name.empty() ? o.name : o.name + " " + o.value_name, o.help);
    }
    rows.emplace_back("-h, --help", "show this help");
    std::size_t width = 0;
    for (const auto& [left, right] : rows) {
        width = std::max(width, left.size());
    }
    for (const auto& [left, right] : rows) {
        out << "  " << left << std::string(width - left.size() + 3, ' ') << right << "\n";
    }
    return out.str();
}

std::optional<std::string> Dispatcher::help_for(std::span<const std::string_view> path) const {
    const std::vector<Command>* level = &commands_;
    const Command* found = nullptr;
    std::string full = program_;
    for (const std::string_view word : path) {
        found = find_command(*level, word);
        if (found == nullptr) {
            return std::nullopt;
        }
        full += " " + found->name;
        level = &found->subcommands;
    }
    return found == nullptr ? help() : command_help(*found, full);
}

void Dispatcher::set_default_command(std::string name, std::function<bool()> applies) {
    default_command_ = std::move(name);
    default_applies_ = std::move(applies);
}

int Dispatcher::run(std::span<const std::string_view> args, Io& io) const {
    const Command* fallback =
        default_command_.empty() ? nullptr : find_command(commands_, default_command_);
    if (args.empty()) {
        if (fallback != nullptr && default_applies_ && default_applies_()) {
            return run_command(*fallback, program_, args, io);
        }
        io.err << help();
        return kExitUsage;
    }
    const std::string_view first = args.front();
    if (is_help(first)) {
        io.out << help();
        return kExitOk;
    }
    if ((first == "--version" || first == "-V") && version_) {
        if (args.size() > 1) {
            io.err << program_ << ": unexpected argument '" << args[1] << "' after " << first
                   << "\n";
            return kExitUsage;
        }
        return version_(io);
    }
    if (first.size() > 1 && first[0] == '-' && first != "--" && fallback != nullptr) {
        return run_command(*fallback, program_, args, io);
    }
    if (first.size() > 1 && first[0] == '-') {
        io.err << program_ << ": unknown option '" << first << "'\nRun '" << program_
               << " --help' for usage.\n";
        return kExitUsage;
    }
    const Command* command = find_command(commands_, first);
    if (command == nullptr) {
        io.err << program_ << ": " << unknown_command(program_, first, commands_) << "\n";
        return kExitUsage;
    }
    return run_command(*command, program_ + " " + command->name, args.subspan(1), io);
}

int Dispatcher::run_command(const Command& command, const std::string& path,
                            std::span<const std::string_view> args, Io& io) const {
    if (!args.empty() && is_help(args.front())) {
        io.out << command_help(command, path);
        return kExitOk;
    }
    if (!command.subcommands.empty() && !args.empty() && args.front()[0] != '-') {
        const Command* sub = find_command(command.subcommands, args.front());
        if (sub == nullptr) {
            io.err << path << ": " << unknown_command(path, args.front(), command.subcommands)
                   << "\n";
            return kExitUsage;
        }
        return run_command(*sub, path + " " + sub->name, args.subspan(1), io);
    }
    try {
        const Args parsed = parse_args(command, args);
        if (parsed.help_requested()) {
            io.out << command_help(command, path);
            return kExitOk;
        }
        if (!command.run) {
            throw UsageError("missing command (one of the commands listed by '" + path +
                             " --help')");
        }
        return command.run(parsed, io);
    } catch (const UsageError& e) {
        io.err << path << ": " << e.what() << "\nRun '" << path << " --help' for usage.\n";
        return kExitUsage;
    }
}

}  // namespace osprey::agent::cli
