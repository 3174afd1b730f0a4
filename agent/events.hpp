#pragma once
// The agent's event stream, schema version 1 (docs/events.md is the contract; a test keeps the two
// equal). One event = one JSON object: common fields (v, type, session, seq, step, time) plus the
// fields of its type. The terminal, `--output stream-json` and the journal consume the same values.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace osprey::agent {

inline constexpr int kEventSchemaVersion = 1;

struct EventField {
    std::string_view name;
    std::string_view type;  // "string", "integer", "boolean", "object", "array of string"
    bool optional = false;
};

struct EventType {
    std::string_view name;  // "tool.call"
    std::span<const EventField> fields;
};

std::span<const EventField> common_event_fields();
std::span<const EventType> event_types();
const EventType* find_event_type(std::string_view name);

// Numbers events of one session: seq 0, 1, 2 ... and the current step.
class EventStamper {
public:
    explicit EventStamper(std::string session_id, std::int64_t next_seq = 0)
        : session_(std::move(session_id)), next_seq_(next_seq) {}

    // Adds the common fields to `fields` (an object holding the type's own fields). Throws
    // std::invalid_argument when the result does not validate: a bug, never model input.
    nlohmann::json stamp(std::string_view type, nlohmann::json fields);
    void set_step(std::int64_t step) { step_ = step; }
    std::int64_t step() const { return step_; }
    std::int64_t next_seq() const { return next_seq_; }
    const std::string& session() const { return session_; }

private:
    std::string session_;
    std::int64_t next_seq_ = 0;
    std::int64_t step_ = 0;
};

// Empty when `event` follows the schema exactly (no missing, mistyped or unknown field); otherwise
// what is wrong, naming the field.
std::string validate_event(const nlohmann::json& event);

// "2026-12-01T20:41:23.512Z" for the current time.
std::string event_time_now();

}  // namespace osprey::agent
