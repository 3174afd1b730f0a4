#include "agent/cli/interactive/session_hooks.hpp"

#include <limits>
#include <stdexcept>

#include "agent/cli/interactive/conversation.hpp"
#include "agent/runtime/kv_persistence.hpp"
#include "agent/runtime/resume.hpp"
#include "agent/runtime/rewind.hpp"
#include "memory/journal.hpp"
#include "memory/sessions.hpp"

namespace osprey::agent::interactive {
namespace {

KvPersistence kv_of(Conversation& c) {
    KvPersistence kv;
    kv.db = &c.store().db();
    kv.folder = c.store().kv_dir();
    return kv;
}

std::string trimmed(std::string_view text) {
    const auto b = text.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        return {};
    }
    const auto e = text.find_last_not_of(" \t");
    return std::string(text.substr(b, e - b + 1));
}

std::int64_t step_number(const std::string& text) {
    std::size_t used = 0;
    long long n = -1;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || n < 0) {
        throw std::invalid_argument("a step is a number (0 = before the first turn), got '" + text +
                                    "'");
    }
    return n;
}

void check_compatible(Conversation& c, const memory::SessionRecord& rec) {
    if (rec.model_fingerprint != c.model().fingerprint()) {
        throw std::runtime_error("session " + rec.id + " ran on " + rec.model_fingerprint +
                                 ", this terminal runs " + c.model().fingerprint());
    }
    if (rec.workspace != c.options().workspace.string()) {
        throw std::runtime_error("session " + rec.id + " belongs to " + rec.workspace +
                                 "; start osprey there (--cwd) to go on with it");
    }
}

// Makes `state` the conversation's session `id` (its journal goes on; `first_seq` streamed
// events already there).
std::string take_over(Conversation& c, const std::string& id, ResumeState state,
                      const std::string& from, std::int64_t first_seq) {
    const KvPersistence kv = kv_of(c);
    const RestoreReport report = restore_context(c.model(), state.context, state.pending, kv);
    const nlohmann::json info = {{"restored_tokens", report.restored_tokens},
                                 {"replayed_tokens", report.replayed_tokens}};
    auto journal = std::make_unique<memory::Journal>(c.store().db(), id);
    std::unique_ptr<Agent> agent = c.make_agent(id, journal.get(), first_seq);
    const std::int64_t steps = state.steps;
    agent->begin_resumed(state, from, info);
    c.replace_session(id, std::move(journal), std::move(agent));
    std::string text = "session " + id + " at step " + std::to_string(steps) + ": " +
                       std::to_string(report.restored_tokens) + " tokens restored, " +
                       std::to_string(report.replayed_tokens) + " prefilled again";
    for (const auto& why : report.discarded) {
        text += "\n  discarded a KV snapshot: " + why;
    }
    return text;
}

std::string resume(Conversation& c, std::string_view args) {
    memory::Sessions sessions(c.store().db());
    const std::string ref = trimmed(args);
    std::optional<memory::SessionRecord> rec;
    if (ref.empty()) {
        for (const auto& s : sessions.list(200)) {
            if (s.id != c.session_id() && s.workspace == c.options().workspace.string()) {
                rec = s;
                break;
            }
        }
        if (!rec) {
            throw std::runtime_error("no other session in this workspace (see /sessions)");
        }
    } else {
        rec = sessions.resolve(ref);
    }
    if (rec->id == c.session_id()) {
        throw std::runtime_error("that is this session");
    }
    check_compatible(c, *rec);
    ResumeState state = read_resume_state(c.store().db(), rec->id);
    c.close();
    sessions.set_status(rec->id, memory::SessionStatus::active);
    const std::int64_t seq = state.streamed_events;
    return "resumed " + take_over(c, rec->id, std::move(state), rec->id, seq);
}

std::string fork(Conversation& c, std::string_view args) {
    memory::Sessions sessions(c.store().db());
    std::string ref = trimmed(args);
    std::optional<std::int64_t> step;
    if (const auto at = ref.find('@'); at != std::string::npos) {
        step = step_number(ref.substr(at + 1));
        ref = ref.substr(0, at);
    } else if (!ref.empty() && ref.find_first_not_of("0123456789") == std::string::npos) {
        step = step_number(ref);
        ref.clear();
    }
    const memory::SessionRecord parent =
        ref.empty() ? *sessions.find(c.session_id()) : sessions.resolve(ref);
    check_compatible(c, parent);
    if (parent.id == c.session_id()) {
        c.close();  // its journal must be complete before it is read
    }
    ResumeState state = step ? read_fork_state(c.store().db(), parent.id, *step)
                             : read_resume_state(c.store().db(), parent.id);
    if (state.unfinished) {
        throw std::runtime_error("session " + parent.id +
                                 " stopped in the middle of a step; fork at a finished step");
    }
    memory::SessionInit init;
    init.workspace = parent.workspace;
    init.title = parent.title;
    init.model_fingerprint = parent.model_fingerprint;
    init.mode = c.agent().mode();
    init.parent_id = parent.id;
    init.fork_step = state.steps;
    const std::string id = sessions.create(init);
    {
        memory::Journal journal(c.store().db(), id);
        journal.append("agent.start", fork_start_record(state).dump(), state.steps,
                       memory::Durability::commit_now);
    }
    return "forked " + parent.id + " into " + take_over(c, id, std::move(state), parent.id, 0);
}

std::string rewind(Conversation& c, std::string_view args) {
    const std::string text = trimmed(args);
    const std::int64_t now = c.agent().totals().steps;
    const std::int64_t to = text.empty() ? now - 1 : step_number(text);
    const RewindPlan plan = plan_rewind(c.store().db(), c.session_id(), to);
    const std::string files = describe(plan, c.options().workspace);
    c.out() << "rewind to the end of step " << to << " (now at step " << plan.from_step << "); "
            << (files.empty() ? std::string("no files to restore\n") : "files:\n" + files);
    c.out().flush();
    const LineInput answer = c.editor().read("  go ahead? [y/N]: ", false);
    if (answer.kind != LineInput::Kind::line ||
        (answer.text != "y" && answer.text != "Y" && answer.text != "yes")) {
        return "nothing changed";
    }
    const std::string id = c.session_id();
    c.close();
    {
        memory::Journal journal(c.store().db(), id);
        apply_rewind(plan, journal);
    }
    ResumeState state = read_resume_state(c.store().db(), id);
    const std::int64_t seq = state.streamed_events;
    return "rewound " + std::to_string(plan.files.size()) + " file(s); " +
           take_over(c, id, std::move(state), id, seq);
}

}  // namespace

SessionCommands session_commands() {
    SessionCommands hooks;
    hooks.resume = resume;
    hooks.fork = fork;
    hooks.rewind = rewind;
    return hooks;
}

}  // namespace osprey::agent::interactive
