#include "agent/cli/sessions_command.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "agent/runtime/rewind.hpp"
#include "memory/journal.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"

namespace osprey::agent::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const Option kDataDir{"--data-dir", "DIR", "the data folder (default: $XDG_DATA_HOME/osprey)"};
const Option kJson{"--json", "", "print as JSON"};

fs::path data_dir(const Args& args) {
    if (auto dir = args.value("--data-dir")) {
        return *dir;
    }
    return memory::default_data_dir();
}

// Reading commands never create a data folder: no database means no sessions.
std::optional<memory::Store> open_store(const Args& args) {
    const fs::path dir = data_dir(args);
    if (!fs::exists(dir / "osprey.db")) {
        return std::nullopt;
    }
    return memory::Store::open(dir);
}

memory::Store require_store(const Args& args) {
    auto store = open_store(args);
    if (!store) {
        throw memory::DatabaseError("there are no sessions yet (no database in " +
                                    data_dir(args).string() + ")");
    }
    return std::move(*store);
}

int parse_limit(const Args& args, int fallback) {
    const auto text = args.value("--limit");
    if (!text) {
        return fallback;
    }
    try {
        std::size_t used = 0;
        const int n = std::stoi(*text, &used);
        if (used == text->size() && n > 0) {
            return n;
        }
    } catch (const std::exception&) {
    }
    throw UsageError("--limit needs a positive number, not '" + *text + "'");
}

std::string iso_time(std::int64_t ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf;
}

json session_json(const memory::SessionRecord& s) {
    json j = {{"id", s.id},
              {"title", s.title},
              {"workspace", s.workspace},
              {"model", s.model_fingerprint},
              {"mode", s.mode},
              {"status", memory::to_string(s.status)},
              {"created_at", iso_time(s.created_at)},
              {"updated_at", iso_time(s.updated_at)},
              {"events", s.event_count}};
    j["parent"] = s.parent_id ? json(*s.parent_id) : json(nullptr);
    j["fork_step"] = s.fork_step ? json(*s.fork_step) : json(nullptr);
    return j;
}

json event_json(const memory::JournalEvent& e) {
    json payload = json::parse(e.payload, nullptr, false);
    return {{"seq", e.seq},
            {"step", e.step},
            {"type", e.type},
            {"payload", payload.is_discarded() ? json(e.payload) : payload},
            {"created_at", iso_time(e.created_at)}};
}

std::string one_line(std::string text, std::size_t max) {
    for (char& c : text) {
        if (c == '\n' || c == '\t') {
            c = ' ';
        }
    }
    return text.size() > max ? text.substr(0, max - 3) + "..." : text;
}

int run_list(const Args& args, Io& io) {
    const int limit = parse_limit(args, 50);
    auto store = open_store(args);
    std::vector<memory::SessionRecord> sessions;
    if (store) {
        sessions = memory::Sessions(store->db()).list(limit);
    }
    if (args.has("--json")) {
        json out = json::array();
        for (const auto& s : sessions) {
            out.push_back(session_json(s));
        }
        io.out << out.dump(2) << "\n";
        return kExitOk;
    }
    if (sessions.empty()) {
        io.out << "no sessions yet\n";
        return kExitOk;
    }
    io.out << std::left << std::setw(22) << "ID" << std::setw(12) << "STATUS" << std::setw(8)
           << "EVENTS" << std::setw(22) << "UPDATED"
           << "TITLE / WORKSPACE\n";
    for (const auto& s : sessions) {
        io.out << std::left << std::setw(22) << s.id << std::setw(12) << memory::to_string(s.status)
               << std::setw(8) << s.event_count << std::setw(22) << iso_time(s.updated_at)
               << one_line(s.title.empty() ? s.workspace : s.title, 60) << "\n";
    }
    return kExitOk;
}

int run_show(const Args& args, Io& io) {
    memory::Store store = require_store(args);
    const auto session = memory::Sessions(store.db()).resolve(args.positionals().at(0));
    const auto events = memory::read_journal(store.db(), session.id);
    if (args.has("--json")) {
        json out = session_json(session);
        out["journal"] = json::array();
        for (const auto& e : events) {
            out["journal"].push_back(event_json(e));
        }
        io.out << out.dump(2) << "\n";
        return kExitOk;
    }
    const json meta = session_json(session);
    for (const auto& [key, value] : meta.items()) {
        io.out << std::left << std::setw(11) << (key + ":")
               << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    }
    std::map<std::string, int> by_type;
    for (const auto& e : events) {
        ++by_type[e.type];
    }
    for (const auto& [type, count] : by_type) {
        io.out << "  " << std::left << std::setw(20) << type << count << "\n";
    }
    return kExitOk;
}

int run_search(const Args& args, Io& io) {
    std::string query;
    for (const auto& word : args.positionals()) {
        query += (query.empty() ? "" : " ") + word;
    }
    if (query.empty()) {
        throw UsageError("search needs words to look for");
    }
    auto store = open_store(args);
    std::vector<memory::SearchHit> hits;
    if (store) {
        hits = memory::search_journal(store->db(), query, parse_limit(args, 20));
    }
    if (args.has("--json")) {
        json out = json::array();
        for (const auto& h : hits) {
            out.push_back({{"session", h.session_id},
                           {"seq", h.seq},
                           {"type", h.type},
                           {"snippet", h.snippet}});
        }
        io.out << out.dump(2) << "\n";
        return kExitOk;
    }
    if (hits.empty()) {
        io.out << "no matches\n";
    }
    for (const auto& h : hits) {
        io.out << h.session_id << " #" << h.seq << " " << h.type << ": " << one_line(h.snippet, 120)
               << "\n";
    }
    return kExitOk;
}

// Markdown: session facts, then the journal with consecutive text deltas of one kind joined.
void write_markdown(std::ostream& out, const memory::SessionRecord& s,
                    const std::vector<memory::JournalEvent>& events) {
    out << "# Session " << s.id << (s.title.empty() ? "" : ": " + s.title) << "\n\n"
        << "- workspace: `" << s.workspace << "`\n"
        << "- model: `" << s.model_fingerprint << "`, mode " << s.mode << "\n"
        << "- status: " << memory::to_string(s.status) << "\n"
        << "- created " << iso_time(s.created_at) << ", updated " << iso_time(s.updated_at) << "\n";
    if (s.parent_id) {
        out << "- forked from " << *s.parent_id << " at step " << s.fork_step.value_or(0) << "\n";
    }
    std::string open_type;
    const auto close_run = [&] {
        if (!open_type.empty()) {
            out << "\n";
            open_type.clear();
        }
    };
    for (const auto& e : events) {
        const json payload = json::parse(e.payload, nullptr, false);
        const bool delta =
            e.type.size() > 6 && e.type.compare(e.type.size() - 6, 6, ".delta") == 0 &&
            payload.is_object() && payload.contains("text") && payload["text"].is_string();
        if (delta) {
            if (open_type != e.type) {
                close_run();
                out << "\n## " << e.type.substr(0, e.type.size() - 6) << " (step " << e.step
                    << ")\n\n";
                open_type = e.type;
            }
            out << payload["text"].get<std::string>();
            continue;
        }
        close_run();
        out << "\n## " << e.type << " (step " << e.step << ", #" << e.seq << ")\n\n```json\n"
            << (payload.is_discarded() ? e.payload : payload.dump(2)) << "\n```\n";
    }
    close_run();
}

int run_export(const Args& args, Io& io) {
    const std::string format = args.value("--format").value_or("jsonl");
    if (format != "jsonl" && format != "md") {
        throw UsageError("unknown --format '" + format + "': expected jsonl or md");
    }
    memory::Store store = require_store(args);
    const auto session = memory::Sessions(store.db()).resolve(args.positionals().at(0));
    const auto events = memory::read_journal(store.db(), session.id);
    std::ostringstream text;
    if (format == "md") {
        write_markdown(text, session, events);
    } else {
        text << json{{"session", session_json(session)}}.dump() << "\n";
        for (const auto& e : events) {
            text << event_json(e).dump() << "\n";
        }
    }
    if (auto path = args.value("--output")) {
        const fs::path target(*path);
        const fs::path tmp = target.string() + ".tmp";
        {
            std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
            file << text.str();
            if (!file.flush()) {
                throw std::runtime_error("cannot write " + tmp.string());
            }
        }
        fs::rename(tmp, target);
        io.err << "exported " << events.size() << " events of " << session.id << " to " << *path
               << "\n";
    } else {
        io.out << text.str();
    }
    return kExitOk;
}

int run_delete(const Args& args, Io& io) {
    memory::Store store = require_store(args);
    memory::Sessions sessions(store.db());
    // Only an exact id deletes: a prefix or "last" is too easy to get wrong for something final.
    const std::string& id = args.positionals().at(0);
    if (!sessions.find(id)) {
        throw memory::DatabaseError("no session '" + id +
                                    "' (delete takes a full id; see `osprey sessions list`)");
    }
    sessions.remove(id);
    io.out << "deleted " << id << "\n";
    return kExitOk;
}

int run_rewind(const Args& args, Io& io) {
    memory::Store store = require_store(args);
    const auto session = memory::Sessions(store.db()).resolve(args.positionals().at(0));
    const std::string& text = args.positionals().at(1);
    std::size_t used = 0;
    std::int64_t step = -1;
    try {
        step = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || step < 0) {
        throw UsageError("STEP must be a step number (0 = before the first turn), got '" + text +
                         "'");
    }
    RewindPlan plan;
    try {
        plan = plan_rewind(store.db(), session.id, step);
    } catch (const memory::DatabaseError&) {
        throw;
    } catch (const std::exception& e) {
        io.err << "osprey: " << e.what() << "\n";
        return kExitFailure;
    }
    const std::string files = describe(plan, session.workspace);
    io.out << "rewinding " << session.id << " from step " << plan.from_step << " to step "
           << plan.to_step << "; "
           << (files.empty() ? std::string("no files to restore\n") : "files:\n" + files);
    if (!args.has("--yes")) {
        io.out << "go ahead? [y/N] ";
        io.out.flush();
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") {
            io.out << "nothing changed\n";
            return kExitFailure;
        }
    }
    memory::Journal journal(store.db(), session.id);
    apply_rewind(plan, journal);
    io.out << "rewound; `osprey run --resume " << session.id << "` goes on from step "
           << plan.to_step << "\n";
    return kExitOk;
}

Command leaf(std::string name, std::string summary, std::string positional, std::size_t max_pos,
             std::vector<Option> options, int (*run)(const Args&, Io&)) {
    Command c;
    c.name = std::move(name);
    c.summary = std::move(summary);
    c.positional_usage = std::move(positional);
    c.max_positionals = max_pos;
    c.options = std::move(options);
    c.options.push_back(kDataDir);
    c.run = [run, max_pos](const Args& args, Io& io) {
        if (max_pos == 1 && args.positionals().empty()) {
            throw UsageError("missing session id");
        }
        if (max_pos == 2 && args.positionals().size() != 2) {
            throw UsageError("expected a session id and a step");
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

Command sessions_command() {
    const Option limit{"--limit", "N", "at most N results"};
    Command list =
        leaf("list", "list sessions, most recent first", "", 0, {limit, kJson}, run_list);
    Command c;
    c.name = "sessions";
    c.summary = "list, show, search, export and delete saved sessions";
    c.options = list.options;
    c.run = list.run;  // `osprey sessions` = `osprey sessions list`
    c.subcommands = {
        list,
        leaf("show", "show a session's facts and journal summary", "ID|PREFIX|last", 1, {kJson},
             run_show),
        leaf("search", "full-text search over messages and tool results", "WORDS...", 16,
             {limit, kJson}, run_search),
        leaf("export", "export a session's journal", "ID|PREFIX|last", 1,
             {{"--format", "jsonl|md", "jsonl (default) or md"},
              {"--output", "FILE", "write to FILE (atomically) instead of stdout"}},
             run_export),
        leaf("delete", "delete a session and its journal", "ID", 1, {}, run_delete),
        leaf("rewind",
             "go back to the end of STEP: restore the files the agent changed later (asks "
             "first) so that --resume goes on from there",
             "ID|PREFIX|last STEP", 2, {{"--yes", "", "do not ask"}}, run_rewind),
    };
    return c;
}

}  // namespace osprey::agent::cli
