#include "agent/cli/interactive/conversation.hpp"

#include <cctype>
#include <csignal>

#include "agent/cli/agent_setup.hpp"
#include "memory/sessions.hpp"

namespace osprey::agent::interactive {

Conversation::Conversation(ModelClient& model, tools::Registry& registry, memory::Store& store,
                           AgentOptions options, LineEditor& editor, std::ostream& out, bool color)
    : model_(model),
      registry_(registry),
      store_(store),
      options_(std::move(options)),
      editor_(editor),
      out_(out),
      renderer_(out, options_.workspace, color),
      tool_log_(store.db()),
      signals_(io_, SIGINT, SIGTERM) {
    memory::Sessions sessions(store_.db());
    memory::SessionInit init;
    init.workspace = options_.workspace.string();
    init.title = "(interactive)";
    init.model_fingerprint = model_.fingerprint();
    init.mode = options_.mode;
    session_id_ = sessions.create(init);
    // Before a compaction the session as it was is copied into a child session.
    options_.keep_old_session = [this](std::int64_t step) {
        return cli::keep_session_copy(store_, session_id_, step);
    };
    journal_ = std::make_unique<memory::Journal>(store_.db(), session_id_);
    agent_ = make_agent(session_id_, journal_.get());
    model_.set_prefill_progress([this](std::int64_t done, std::int64_t total) {
        asio::post(io_, [this, done, total] { renderer_.on_prefill_progress(done, total); });
    });
    agent_->begin();
    arm_signals();
}

Conversation::~Conversation() {
    try {
        close();
    } catch (const std::exception&) {
        // The store may be gone (disk full): the journal already holds every event.
    }
    model_.set_prefill_progress(nullptr);
}

std::unique_ptr<Agent> Conversation::make_agent(const std::string& session_id,
                                                memory::Journal* journal, std::int64_t first_seq) {
    AgentOptions options = options_;
    options.first_seq = first_seq;
    auto agent =
        std::make_unique<Agent>(io_, model_, registry_, options, session_id, journal, &tool_log_,
                                [this](const nlohmann::json& ev) { renderer_.on_event(ev); });
    wire(*agent);
    return agent;
}

void Conversation::wire(Agent& agent) {
    agent.set_approver([this](const ApprovalRequest& r) { return ask(r); });
    agent.set_parse_observer([this](const model::ParseEvent& ev) { renderer_.on_parse_event(ev); });
}

void Conversation::replace_session(std::string session_id, std::unique_ptr<memory::Journal> journal,
                                   std::unique_ptr<Agent> agent) {
    close();
    agent_ = std::move(agent);
    journal_ = std::move(journal);
    session_id_ = std::move(session_id);
    closed_ = false;
    titled_ = true;
    agent_->begin();
}

Approval Conversation::ask(const ApprovalRequest& request) {
    renderer_.clear_live();
    const Style& s = renderer_.style();
    std::string what = request.subject.empty() ? request.arguments.dump() : request.subject;
    if (what.size() > 200) {
        what = what.substr(0, 200) + "…";
    }
    out_ << s.yellow("? allow " + request.tool) << " " << s.bold(what) << "\n";
    out_.flush();
    while (true) {
        const LineInput in = editor_.read("  [y]es / [n]o / [a]lways: ", false);
        if (in.kind == LineInput::Kind::interrupt) {
            out_ << "^C\n";
            agent_->interrupt(130);
            return Approval::no;
        }
        if (in.kind == LineInput::Kind::eof) {
            out_ << "\n";
            return Approval::no;
        }
        std::string answer;
        for (const char c : in.text) {
            if (c != ' ' && c != '\t') {
                answer += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
        }
        if (answer == "y" || answer == "yes") {
            return Approval::yes;
        }
        if (answer == "a" || answer == "always") {
            return Approval::always;
        }
        if (answer == "n" || answer == "no") {
            return Approval::no;
        }
        out_ << s.dim("  answer y, n or a") << "\n";
    }
}

void Conversation::arm_signals() {
    signals_.async_wait([this](const boost::system::error_code& err, int sig) {
        if (err) {
            return;
        }
        if (sig == SIGTERM) {
            terminated_ = true;
        }
        if (running_) {
            renderer_.interrupted();
            agent_->interrupt(128 + sig);
        } else if (sig == SIGINT) {
            pending_interrupt_ = true;  // Ctrl-C between two prompts
        }
        arm_signals();
    });
}

void Conversation::poll() {
    io_.restart();
    io_.poll();
}

bool Conversation::take_pending_interrupt() {
    const bool pending = pending_interrupt_;
    pending_interrupt_ = false;
    return pending;
}

AgentOutcome Conversation::run(const std::function<asio::awaitable<AgentOutcome>()>& work) {
    agent_->clear_interrupt();
    io_.restart();
    io_.poll();  // stale completions run before the work starts
    pending_interrupt_ = false;
    running_ = true;
    bool done = false;
    std::exception_ptr error;
    AgentOutcome outcome;
    asio::co_spawn(io_, work(), [&](std::exception_ptr e, AgentOutcome o) {
        error = e;
        outcome = std::move(o);
        done = true;
    });
    while (!done && io_.run_one() > 0) {
    }
    running_ = false;
    io_.poll();  // parser events posted before the end are drawn
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            renderer_.clear_live();
            out_ << renderer_.style().red(std::string("error: ") + e.what()) << "\n";
        }
        outcome.exit_code = 1;
        outcome.exit_reason = "failed";
    }
    last_ = outcome;
    return outcome;
}

AgentOutcome Conversation::send(const std::string& message) {
    if (!titled_) {
        titled_ = true;
        memory::Sessions(store_.db()).set_title(session_id_, message.substr(0, 80));
    }
    renderer_.begin_turn();
    AgentOutcome outcome = run([this, message] { return agent_->run_turn(message); });
    renderer_.end_turn(outcome);
    return outcome;
}

void Conversation::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    AgentOutcome end;
    end.exit_code = 0;
    end.exit_reason = terminated_ ? "interrupted" : "done";
    if (terminated_) {
        end.exit_code = 143;
    }
    end.final_text = last_.final_text;
    agent_->finish(end);
    memory::Sessions(store_.db())
        .set_status(session_id_, terminated_ ? memory::SessionStatus::interrupted
                                             : memory::SessionStatus::completed);
}

}  // namespace osprey::agent::interactive
