#include "agent/cli/interactive/slash_commands.hpp"

#include <ctime>
#include <sstream>

#include "agent/cli/dispatcher.hpp"
#include "agent/cli/interactive/conversation.hpp"
#include "memory/sessions.hpp"

namespace osprey::agent::interactive {
namespace {

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        return "";
    }
    const auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

std::string when(std::int64_t unix_ms) {
    const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

void print(Conversation& c, const std::string& text) {
    c.renderer().clear_live();
    c.out() << text << "\n";
    c.out().flush();
}

void set_mode(Conversation& c, const std::string& mode, const std::string& what) {
    c.agent().set_mode(mode);
    print(c, c.renderer().style().cyan("mode: " + mode) + " — " + what);
}

void show_usage(Conversation& c) {
    const AgentOutcome t = c.agent().totals();
    const Style& s = c.renderer().style();
    std::ostringstream o;
    o << s.bold("session ") << c.session_id() << " · mode " << c.agent().mode() << " · model "
      << c.model().fingerprint() << "\n"
      << "  steps " << t.steps << " · prompt tokens " << group_digits(t.prompt_tokens)
      << " · generated " << group_digits(t.decoded_tokens) << " · context "
      << group_digits(t.context_tokens);
    if (c.options().context_limit) {
        o << " of " << group_digits(*c.options().context_limit) << " ("
          << t.context_tokens * 100 / std::max<std::int64_t>(1, *c.options().context_limit) << "%)";
    }
    o << "\n  every token went through the model once: prefilled + generated = "
      << group_digits(c.model().forwarded_tokens());
    print(c, o.str());
}

void list_sessions(Conversation& c) {
    memory::Sessions sessions(c.store().db());
    const auto list = sessions.list(20);
    const Style& s = c.renderer().style();
    std::ostringstream o;
    if (list.empty()) {
        o << "no sessions yet";
    }
    for (const auto& r : list) {
        const bool current = r.id == c.session_id();
        std::string title = r.title.empty() ? r.workspace : r.title;
        if (title.size() > 60) {
            title = title.substr(0, 60) + "…";
        }
        o << (current ? s.green("* ") : "  ") << r.id << "  "
          << s.dim(std::string(memory::to_string(r.status))) << "  " << when(r.updated_at) << "  "
          << r.event_count << " events  " << title << "\n";
    }
    o << s.dim("/resume ID continues one, /fork ID branches from one");
    print(c, o.str());
}

void call_hook(Conversation& c, const std::string& name,
               const std::function<std::string(Conversation&, std::string_view)>& hook,
               const std::string& args) {
    if (!hook) {
        print(c, c.renderer().style().yellow(name + " is not available yet") +
                     " (it comes with session resume in the agent runtime)");
        return;
    }
    try {
        print(c, hook(c, args));
    } catch (const std::exception& e) {
        print(c, c.renderer().style().red(name + ": " + e.what()));
    }
}

}  // namespace

const std::vector<SlashCommand>& slash_commands() {
    static const std::vector<SlashCommand> table = {
        {"/help", "", "this list"},
        {"/think", "[show|hide]",
         "think mode (reasoning, effort high); show|hide: stream the reasoning in full, or "
         "collapse it to one line"},
        {"/nothink", "", "chat mode: answer without reasoning"},
        {"/max", "", "think mode with maximum reasoning effort"},
        {"/compact", "", "summarise the conversation and continue on a fresh, smaller context"},
        {"/usage", "", "tokens and context used by this session"},
        {"/sessions", "", "saved sessions, most recent first"},
        {"/resume", "[ID|last]", "continue another saved session of this workspace"},
        {"/fork", "[ID][@STEP]", "branch a new session from this one (or ID) after STEP"},
        {"/rewind", "[STEP]", "back to the end of STEP (default: undo the last step), files too"},
        {"/quit", "", "end the session (also Ctrl-D, or Ctrl-C twice)"},
    };
    return table;
}

SlashResult run_slash_command(Conversation& c, std::string_view line,
                              const SessionCommands& hooks) {
    const std::string text = trim(line);
    const auto space = text.find_first_of(" \t");
    const std::string name = text.substr(0, space);
    const std::string args = space == std::string::npos ? "" : trim(text.substr(space));
    const Style& s = c.renderer().style();
    if (name == "/help" || name == "/?") {
        std::ostringstream o;
        o << s.bold("commands") << "\n";
        for (const auto& cmd : slash_commands()) {
            std::string left = cmd.name + (cmd.usage.empty() ? "" : " " + cmd.usage);
            o << "  " << s.cyan(left) << std::string(left.size() < 20 ? 20 - left.size() : 1, ' ')
              << cmd.help << "\n";
        }
        o << s.dim(
            "Enter sends; Ctrl-C stops the model or a tool (the session stays); a line "
            "ending in \\ continues on the next line.");
        print(c, o.str());
    } else if (name == "/think") {
        if (args == "show" || args == "hide") {
            const bool show = args == "show";
            c.renderer().set_show_reasoning(show);
            print(c, s.cyan(show ? "reasoning: shown in full" : "reasoning: collapsed"));
            if (show && !c.renderer().last_reasoning().empty()) {
                print(c, s.dim(c.renderer().last_reasoning()));
            }
        } else if (args.empty()) {
            set_mode(c, "think", "the model reasons before answering");
        } else {
            print(c, s.red("/think takes show, hide or nothing"));
        }
    } else if (name == "/nothink") {
        set_mode(c, "chat", "the model answers without reasoning");
    } else if (name == "/max") {
        set_mode(c, "max", "the model reasons with maximum effort");
    } else if (name == "/compact") {
        c.renderer().begin_turn();
        const AgentOutcome o = c.run([&c] { return c.agent().compact(); });
        c.renderer().end_turn(o);
    } else if (name == "/usage") {
        show_usage(c);
    } else if (name == "/sessions") {
        list_sessions(c);
    } else if (name == "/resume") {
        call_hook(c, name, hooks.resume, args);
    } else if (name == "/fork") {
        call_hook(c, name, hooks.fork, args);
    } else if (name == "/rewind") {
        call_hook(c, name, hooks.rewind, args);
    } else if (name == "/quit" || name == "/exit") {
        return SlashResult::quit;
    } else {
        std::vector<std::string> names;
        for (const auto& cmd : slash_commands()) {
            names.push_back(cmd.name);
        }
        std::string message = "unknown command " + name;
        if (auto near = cli::closest_name(name, names)) {
            message += " (did you mean " + *near + "?)";
        }
        print(c, s.red(message) + s.dim(" — /help lists the commands"));
    }
    return SlashResult::handled;
}

}  // namespace osprey::agent::interactive
