#pragma once
// One interactive session: the agent on its KV session, the terminal it draws on, and how its
// work runs. A user message becomes one agent turn on the same session (nothing prefilled
// twice); Ctrl-C (SIGINT) stops the generation or tool and returns to the prompt with the
// session intact; SIGTERM stops it and ends the session. Calls that need approval (permission
// mode `ask`) are asked at the prompt: y(es), n(o) or a(lways).

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "agent/asio.hpp"
#include "agent/cli/interactive/line_editor.hpp"
#include "agent/cli/interactive/renderer.hpp"
#include "agent/runtime/agent.hpp"
#include "memory/journal.hpp"
#include "memory/store.hpp"
#include "memory/tool_log.hpp"

namespace osprey::agent::interactive {

class Conversation {
public:
    // Creates the memory session now (its title is the first message).
    Conversation(ModelClient& model, tools::Registry& registry, memory::Store& store,
                 AgentOptions options, LineEditor& editor, std::ostream& out, bool color);
    Conversation(const Conversation&) = delete;
    Conversation& operator=(const Conversation&) = delete;
    ~Conversation();

    // Runs one agent turn for `message`, drawing it as it goes.
    AgentOutcome send(const std::string& message);
    // Runs other work of the agent (e.g. compaction) the same way: drawn, Ctrl-C stops it.
    AgentOutcome run(const std::function<asio::awaitable<AgentOutcome>()>& work);
    // Ends the session (session.completed, status in the store). Called by the destructor too.
    void close();

    Agent& agent() { return *agent_; }
    ModelClient& model() { return model_; }
    tools::Registry& registry() { return registry_; }
    Renderer& renderer() { return renderer_; }
    memory::Store& store() { return store_; }
    LineEditor& editor() { return editor_; }
    std::ostream& out() { return out_; }
    const std::string& session_id() const { return session_id_; }
    const AgentOptions& options() const { return options_; }
    asio::io_context& io() { return io_; }
    // Runs what the event loop has ready (signals that came while no work ran).
    void poll();
    // Ctrl-C came while no work ran and no line was being edited (it counts as one at the
    // prompt); clears it.
    bool take_pending_interrupt();
    // SIGTERM arrived: the front end should end the session.
    bool terminated() const { return terminated_; }
    // The agent and journal can be replaced (resume, fork): the hooks of SessionCommands use
    // this to swap in another session; the old one is closed first.
    void replace_session(std::string session_id, std::unique_ptr<memory::Journal> journal,
                         std::unique_ptr<Agent> agent);
    // A new Agent on this conversation's model, registry, options and tool log (for the hooks).
    // `first_seq`: the events the session's stream already holds (a resumed session).
    std::unique_ptr<Agent> make_agent(const std::string& session_id, memory::Journal* journal,
                                      std::int64_t first_seq = 0);

private:
    Approval ask(const ApprovalRequest& request);
    void wire(Agent& agent);
    void arm_signals();

    asio::io_context io_;
    ModelClient& model_;
    tools::Registry& registry_;
    memory::Store& store_;
    AgentOptions options_;
    LineEditor& editor_;
    std::ostream& out_;
    Renderer renderer_;
    std::string session_id_;
    std::unique_ptr<memory::Journal> journal_;
    memory::ToolLog tool_log_;
    std::unique_ptr<Agent> agent_;
    asio::signal_set signals_;
    AgentOutcome last_;
    bool titled_ = false;
    bool running_ = false;
    bool terminated_ = false;
    bool pending_interrupt_ = false;
    bool closed_ = false;
};

}  // namespace osprey::agent::interactive
