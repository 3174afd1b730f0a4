#pragma once
// Draws the agent's event stream on the terminal: the answer streamed as it is generated;
// reasoning dimmed, either streamed in full or (the default) shown on one live line while it is
// generated and collapsed to a one-line summary afterwards; tool calls as soon as the parser has
// them; tool results with their status and first lines; diffs of the files that write, edit and
// apply_patch changed; a prefill progress bar; and the usage after each answer.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "agent/cli/interactive/style.hpp"
#include "agent/runtime/agent.hpp"
#include "model/chat/output_parser.hpp"

namespace osprey::agent::interactive {

class Renderer {
public:
    Renderer(std::ostream& out, std::filesystem::path workspace, bool color);

    // A user message was sent: usage and reasoning start over.
    void begin_turn();
    void on_event(const nlohmann::json& event);
    void on_parse_event(const model::ParseEvent& event);
    void on_prefill_progress(std::int64_t done, std::int64_t total);
    // After the agent answered, stopped or failed: a newline if needed, what stopped it, usage.
    void end_turn(const AgentOutcome& outcome);

    // Ctrl-C was pressed while the agent worked (the terminal echoed it).
    void interrupted();
    // Erases the live line (before the terminal asks a question or prints something else).
    void clear_live();
    void set_show_reasoning(bool show) { show_reasoning_ = show; }
    bool show_reasoning() const { return show_reasoning_; }
    // The reasoning of the last model turn, in full.
    const std::string& last_reasoning() const { return last_reasoning_; }
    const Style& style() const { return style_; }

private:
    void write(std::string_view text);
    void ensure_newline();
    void set_live(const std::string& text);
    void end_reasoning();
    void show_call(const std::string& name, const nlohmann::json& arguments);
    void show_result(const nlohmann::json& event);
    std::string fit(std::string_view text, int reserve) const;

    std::ostream& out_;
    std::filesystem::path workspace_;
    Style style_;
    bool show_reasoning_ = false;
    bool live_ = false;
    bool at_line_start_ = true;
    bool in_reasoning_ = false;
    std::string reasoning_;
    std::string last_reasoning_;
    std::chrono::steady_clock::time_point reasoning_started_;
    std::chrono::steady_clock::time_point turn_started_;
    // Files as they were before each call that may change them: call id -> (path, content).
    std::map<std::string, std::vector<std::pair<std::string, std::optional<std::string>>>> before_;
    // This user turn's usage.
    std::int64_t prompt_tokens_ = 0;
    std::int64_t decoded_tokens_ = 0;
    std::int64_t context_tokens_ = 0;
    std::int64_t prefill_ms_ = 0;
    std::int64_t decode_ms_ = 0;
    std::int64_t steps_ = 0;
};

// "1,234,567"
std::string group_digits(std::int64_t n);

}  // namespace osprey::agent::interactive
