#include "agent/cli/notes_command.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "memory/notes.hpp"
#include "memory/store.hpp"

namespace osprey::agent::cli {
namespace {

namespace fs = std::filesystem;

const Option kDataDir{"--data-dir", "DIR", "the data folder (default: $XDG_DATA_HOME/osprey)"};
const Option kWorkspace{"--cwd", "DIR", "the workspace (default: the current folder)"};

std::string workspace(const Args& args) {
    std::error_code ec;
    const fs::path dir = fs::canonical(args.value("--cwd").value_or("."), ec);
    if (ec) {
        throw UsageError("cannot use workspace '" + args.value("--cwd").value_or(".") +
                         "': " + ec.message());
    }
    return dir.string();
}

memory::Store open_store(const Args& args) {
    return memory::Store::open(
        args.value("--data-dir").value_or(memory::default_data_dir().string()));
}

std::int64_t note_id(const Args& args) {
    const std::string& text = args.positionals().at(0);
    try {
        std::size_t used = 0;
        const long long id = std::stoll(text, &used);
        if (used == text.size() && id > 0) {
            return id;
        }
    } catch (const std::exception&) {
    }
    throw UsageError("a note id is a positive number (see `osprey notes list`), not '" + text +
                     "'");
}

std::string joined(const Args& args, std::size_t from) {
    std::string text;
    for (std::size_t i = from; i < args.positionals().size(); ++i) {
        text += (text.empty() ? "" : " ") + args.positionals()[i];
    }
    return text;
}

int run_list(const Args& args, Io& io) {
    const std::string ws = workspace(args);
    const fs::path dir = args.value("--data-dir").value_or(memory::default_data_dir().string());
    std::vector<memory::ProjectNote> notes;
    if (fs::exists(dir / "osprey.db")) {  // listing never creates a data folder
        memory::Store store = memory::Store::open(dir);
        notes = memory::ProjectNotes(store.db()).list(ws);
    }
    if (args.has("--json")) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& n : notes) {
            out.push_back({{"id", n.id}, {"text", n.text}});
        }
        io.out << out.dump(2) << "\n";
        return kExitOk;
    }
    if (notes.empty()) {
        io.out << "no notes for " << ws << "\n";
    }
    for (const auto& n : notes) {
        io.out << n.id << ": " << n.text << "\n";
    }
    return kExitOk;
}

int run_add(const Args& args, Io& io) {
    memory::Store store = open_store(args);
    const auto id = memory::ProjectNotes(store.db()).add(workspace(args), joined(args, 0));
    io.out << "added note " << id << "\n";
    return kExitOk;
}

int run_edit(const Args& args, Io& io) {
    if (args.positionals().size() < 2) {
        throw UsageError("edit needs a note id and the new text");
    }
    memory::Store store = open_store(args);
    memory::ProjectNotes(store.db()).update(note_id(args), joined(args, 1));
    io.out << "updated note " << args.positionals()[0] << "\n";
    return kExitOk;
}

int run_delete(const Args& args, Io& io) {
    memory::Store store = open_store(args);
    memory::ProjectNotes(store.db()).remove(note_id(args));
    io.out << "deleted note " << args.positionals()[0] << "\n";
    return kExitOk;
}

Command leaf(std::string name, std::string summary, std::string positional, std::size_t min_pos,
             std::size_t max_pos, std::vector<Option> extra, int (*run)(const Args&, Io&)) {
    Command c;
    c.name = std::move(name);
    c.summary = std::move(summary);
    c.positional_usage = std::move(positional);
    c.max_positionals = max_pos;
    c.options = {kWorkspace, kDataDir};
    c.options.insert(c.options.end(), extra.begin(), extra.end());
    c.run = [run, min_pos](const Args& args, Io& io) {
        if (args.positionals().size() < min_pos) {
            throw UsageError("missing arguments (see --help)");
        }
        try {
            return run(args, io);
        } catch (const memory::DatabaseError& e) {
            io.err << "osprey: " << e.what() << "\n";
            return kExitFailure;
        }
    };
    return c;
}

}  // namespace

Command notes_command() {
    Command list = leaf("list", "list this workspace's notes", "", 0, 0,
                        {{"--json", "", "print as JSON"}}, run_list);
    Command c;
    c.name = "notes";
    c.summary = "the project memory the model keeps for this workspace";
    c.options = list.options;
    c.run = list.run;
    c.subcommands = {
        list,
        leaf("add", "add a note", "TEXT...", 1, 256, {}, run_add),
        leaf("edit", "replace a note's text", "ID TEXT...", 2, 256, {}, run_edit),
        leaf("delete", "delete a note", "ID", 1, 1, {}, run_delete),
    };
    return c;
}

}  // namespace osprey::agent::cli
