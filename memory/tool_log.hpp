#pragma once
// The record of tool executions, so that no tool ever runs twice for one call: a call is logged as
// running before the tool starts; a resume finds calls still "running" (the process died mid-tool)
// and marks them interrupted instead of running them again.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "memory/database.hpp"

namespace osprey::memory {

enum class ToolStatus { running, ok, error, denied, interrupted };

std::string_view to_string(ToolStatus status);

struct ToolExecution {
    std::int64_t id = 0;
    std::string session_id;
    std::int64_t call_seq = 0;  // the journal seq of the tool.call event
    std::string tool;
    std::string arguments;  // JSON
    ToolStatus status = ToolStatus::running;
    std::optional<std::string> result;
    std::optional<std::int64_t> exit_code;
    std::int64_t started_at = 0;
    std::optional<std::int64_t> duration_ms;
};

class ToolLog {
public:
    explicit ToolLog(Database& db) : db_(db) {}

    // Throws DatabaseError when this call was already started (the caller must not run it again).
    std::int64_t begin(std::string_view session_id, std::int64_t call_seq, std::string_view tool,
                       std::string_view arguments_json);
    void finish(std::int64_t id, ToolStatus status, std::string_view result,
                std::optional<std::int64_t> exit_code, std::int64_t duration_ms);
    std::optional<ToolExecution> find(std::string_view session_id, std::int64_t call_seq);
    // Marks every execution of the session still "running" as interrupted and returns them.
    std::vector<ToolExecution> interrupt_unfinished(std::string_view session_id);

private:
    Database& db_;
};

}  // namespace osprey::memory
