#pragma once
// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it: ", " and ": "
// separators, keys in their given order, floats in Python's repr form (1.0, 1e-05, 1e+16), only
// control characters, '"' and '\\' escaped. The official DeepSeek encoder serialises tool schemas,
// response formats and argument values this way, so byte-exact prompts need it.

#include <string>

#include <nlohmann/json.hpp>

namespace osprey::model {

std::string python_json_dumps(const nlohmann::ordered_json& value);
void python_json_dump(const nlohmann::ordered_json& value, std::string& out);
// A JSON string literal for `text` (valid UTF-8), Python style.
void python_json_string(std::string_view text, std::string& out);

}  // namespace osprey::model
