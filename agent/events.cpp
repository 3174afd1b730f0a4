#include "agent/events.hpp"

#include <array>
#include <chrono>
#include <ctime>
#include <stdexcept>

namespace osprey::agent {
namespace {

using F = EventField;
constexpr std::array kCommon = {F{"v", "integer"},   F{"type", "string"},  F{"session", "string"},
                                F{"seq", "integer"}, F{"step", "integer"}, F{"time", "string"}};
constexpr std::array kSessionStarted = {F{"model", "string"},
                                        F{"mode", "string"},
                                        F{"workspace", "string"},
                                        F{"permission", "string"},
                                        F{"tools", "array of string"},
                                        F{"resumed_from", "string", true},
                                        F{"restored_tokens", "integer", true},
                                        F{"replayed_tokens", "integer", true}};
constexpr std::array kTurnStarted = {F{"prompt_tokens", "integer"}};
constexpr std::array kDelta = {F{"text", "string"}};
constexpr std::array kToolCall = {F{"call_id", "string"}, F{"name", "string"},
                                  F{"arguments", "object"}, F{"raw", "string"}};
constexpr std::array kToolResult = {F{"call_id", "string"},      F{"name", "string"},
                                    F{"status", "string"},       F{"output", "string"},
                                    F{"duration_ms", "integer"}, F{"data", "object", true}};
constexpr std::array kUsage = {F{"prompt_tokens", "integer"}, F{"decoded_tokens", "integer"},
                               F{"reused_tokens", "integer"}, F{"context_tokens", "integer"},
                               F{"prefill_ms", "integer"},    F{"decode_ms", "integer"}};
constexpr std::array kCompaction = {F{"before_tokens", "integer"}, F{"after_tokens", "integer"},
                                    F{"old_session", "string"},
                                    F{"kept_messages", "integer", true}};
constexpr std::array kTurnCompleted = {F{"finish_reason", "string"}};
constexpr std::array kError = {F{"code", "string"}, F{"message", "string"},
                               F{"recoverable", "boolean"}};
constexpr std::array kSessionCompleted = {
    F{"exit_reason", "string"},    F{"exit_code", "integer"},     F{"final_text", "string"},
    F{"steps", "integer"},         F{"prompt_tokens", "integer"}, F{"decoded_tokens", "integer"},
    F{"context_tokens", "integer"}};

const std::array<EventType, 11> kTypes = {{
    {"session.started", kSessionStarted},
    {"turn.started", kTurnStarted},
    {"reasoning.delta", kDelta},
    {"text.delta", kDelta},
    {"tool.call", kToolCall},
    {"tool.result", kToolResult},
    {"usage", kUsage},
    {"compaction", kCompaction},
    {"turn.completed", kTurnCompleted},
    {"error", kError},
    {"session.completed", kSessionCompleted},
}};

bool has_type(const nlohmann::json& value, std::string_view type) {
    if (type == "string") {
        return value.is_string();
    }
    if (type == "integer") {
        return value.is_number_integer();
    }
    if (type == "boolean") {
        return value.is_boolean();
    }
    if (type == "object") {
        return value.is_object();
    }
    if (type == "array of string") {
        if (!value.is_array()) {
            return false;
        }
        for (const auto& item : value) {
            if (!item.is_string()) {
                return false;
            }
        }
        return true;
    }
    return false;
}

std::string check_fields(const nlohmann::json& event, std::span<const EventField> fields) {
    for (const auto& f : fields) {
        const auto it = event.find(std::string(f.name));
        if (it == event.end()) {
            if (!f.optional) {
                return "missing field '" + std::string(f.name) + "'";
            }
            continue;
        }
        if (!has_type(*it, f.type)) {
            return "field '" + std::string(f.name) + "' must be " + std::string(f.type) + ", not " +
                   it->type_name();
        }
    }
    return {};
}

}  // namespace

std::span<const EventField> common_event_fields() {
    return kCommon;
}

std::span<const EventType> event_types() {
    return kTypes;
}

const EventType* find_event_type(std::string_view name) {
    for (const auto& t : kTypes) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

std::string validate_event(const nlohmann::json& event) {
    if (!event.is_object()) {
        return "an event must be a JSON object";
    }
    if (auto err = check_fields(event, kCommon); !err.empty()) {
        return err;
    }
    if (event["v"] != kEventSchemaVersion) {
        return "unknown schema version " + event["v"].dump();
    }
    const std::string type = event["type"];
    const EventType* spec = find_event_type(type);
    if (spec == nullptr) {
        return "unknown event type '" + type + "'";
    }
    if (auto err = check_fields(event, spec->fields); !err.empty()) {
        return type + ": " + err;
    }
    for (const auto& [key, value] : event.items()) {
        const auto known = [&](std::span<const EventField> fields) {
            for (const auto& f : fields) {
                if (f.name == key) {
                    return true;
                }
            }
            return false;
        };
        if (!known(kCommon) && !known(spec->fields)) {
            return type + ": unknown field '" + key + "'";
        }
    }
    return {};
}

nlohmann::json EventStamper::stamp(std::string_view type, nlohmann::json fields) {
    nlohmann::json event = {
        {"v", kEventSchemaVersion}, {"type", type},  {"session", session_},
        {"seq", next_seq_},         {"step", step_}, {"time", event_time_now()}};
    for (auto& [key, value] : fields.items()) {
        event[key] = std::move(value);
    }
    if (auto err = validate_event(event); !err.empty()) {
        throw std::invalid_argument("invalid event: " + err);
    }
    ++next_seq_;
    return event;
}

std::string event_time_now() {
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace osprey::agent
