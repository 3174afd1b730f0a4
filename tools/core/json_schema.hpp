#pragma once
// Validation of tool arguments against the subset of JSON Schema the tool schemas use: type (one or
// a list), properties, required, additionalProperties (bool), enum, items, minimum/maximum,
// minLength/maxLength, minItems/maxItems. No Debian package offers a maintained C++ validator, and
// the tool schemas need nothing more. Unknown keywords ("description", "default") are ignored.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace osprey::tools {

// Each problem as "<where>: <what>", e.g. "start_line: must be >= 1, got 0". Empty when valid.
std::vector<std::string> validate_json(const nlohmann::json& schema, const nlohmann::json& value);

// The schema of a tool's arguments: an object with these properties, these required, no others.
nlohmann::json object_schema(nlohmann::json properties, nlohmann::json required);

}  // namespace osprey::tools
