#include "tools/core/json_schema.hpp"

#include <cmath>

namespace osprey::tools {
namespace {

using nlohmann::json;

bool has_type(const json& value, const std::string& type) {
    if (type == "object")
        return value.is_object();
    if (type == "array")
        return value.is_array();
    if (type == "string")
        return value.is_string();
    if (type == "boolean")
        return value.is_boolean();
    if (type == "null")
        return value.is_null();
    if (type == "number")
        return value.is_number();
    if (type == "integer") {
        if (value.is_number_integer())
            return true;
        // 3.0 is an integer in JSON Schema.
        return value.is_number_float() && std::floor(value.get<double>()) == value.get<double>();
    }
    return false;
}

std::string type_name(const json& value) {
    if (value.is_number_integer())
        return "integer";
    if (value.is_number())
        return "number";
    return value.type_name();
}

std::string where_of(const std::string& path) {
    return path.empty() ? "arguments" : path;
}

std::string short_dump(const json& value) {
    std::string text = value.dump();
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

void check(const json& schema, const json& value, const std::string& path,
           std::vector<std::string>& errors) {
    if (!schema.is_object())
        return;
    const std::string where = where_of(path);
    if (auto it = schema.find("type"); it != schema.end()) {
        bool ok = false;
        std::string wanted;
        if (it->is_string()) {
            ok = has_type(value, it->get<std::string>());
            wanted = it->get<std::string>();
        } else if (it->is_array()) {
            for (const auto& t : *it) {
                ok = ok || has_type(value, t.get<std::string>());
                wanted += (wanted.empty() ? "" : " or ") + t.get<std::string>();
            }
        }
        if (!ok) {
            errors.push_back(where + ": must be " + wanted + ", got " + type_name(value));
            return;  // the other keywords would only repeat the same complaint
        }
    }
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
        bool found = false;
        std::string choices;
        for (const auto& choice : *it) {
            found = found || choice == value;
            choices += (choices.empty() ? "" : ", ") + choice.dump();
        }
        if (!found) {
            errors.push_back(where + ": must be one of " + choices + ", got " + short_dump(value));
        }
    }
    if (value.is_number()) {
        const double v = value.get<double>();
        if (auto it = schema.find("minimum"); it != schema.end() && v < it->get<double>()) {
            errors.push_back(where + ": must be >= " + it->dump() + ", got " + value.dump());
        }
        if (auto it = schema.find("maximum"); it != schema.end() && v > it->get<double>()) {
            errors.push_back(where + ": must be <= " + it->dump() + ", got " + value.dump());
        }
    }
    if (value.is_string()) {
        const auto n = value.get_ref<const std::string&>().size();
        if (auto it = schema.find("minLength"); it != schema.end() && n < it->get<std::size_t>()) {
            errors.push_back(where + ": must be at least " + it->dump() + " characters long");
        }
        if (auto it = schema.find("maxLength"); it != schema.end() && n > it->get<std::size_t>()) {
            errors.push_back(where + ": must be at most " + it->dump() + " characters long");
        }
    }
    if (value.is_array()) {
        if (auto it = schema.find("minItems");
            it != schema.end() && value.size() < it->get<std::size_t>()) {
            errors.push_back(where + ": must have at least " + it->dump() + " items");
        }
        if (auto it = schema.find("maxItems");
            it != schema.end() && value.size() > it->get<std::size_t>()) {
            errors.push_back(where + ": must have at most " + it->dump() + " items");
        }
        if (auto it = schema.find("items"); it != schema.end()) {
            for (std::size_t i = 0; i < value.size(); ++i) {
                check(*it, value[i], path + "[" + std::to_string(i) + "]", errors);
            }
        }
    }
    if (value.is_object()) {
        const auto props = schema.find("properties");
        if (auto it = schema.find("required"); it != schema.end()) {
            for (const auto& name : *it) {
                if (!value.contains(name.get<std::string>())) {
                    errors.push_back(where + ": missing required property '" +
                                     name.get<std::string>() + "'");
                }
            }
        }
        const auto extra = schema.find("additionalProperties");
        for (const auto& [key, item] : value.items()) {
            const std::string sub = path.empty() ? key : path + "." + key;
            if (props != schema.end() && props->contains(key)) {
                check((*props)[key], item, sub, errors);
            } else if (extra != schema.end() && extra->is_boolean() && !extra->get<bool>()) {
                std::string known;
                if (props != schema.end()) {
                    for (const auto& [name, unused] : props->items()) {
                        known += (known.empty() ? "" : ", ") + name;
                    }
                }
                errors.push_back(where + ": unknown property '" + key + "'" +
                                 (known.empty() ? "" : " (expected: " + known + ")"));
            } else if (extra != schema.end() && extra->is_object()) {
                check(*extra, item, sub, errors);
            }
        }
    }
}

}  // namespace

std::vector<std::string> validate_json(const nlohmann::json& schema, const nlohmann::json& value) {
    std::vector<std::string> errors;
    check(schema, value, "", errors);
    return errors;
}

nlohmann::json object_schema(nlohmann::json properties, nlohmann::json required) {
    return {{"type", "object"},
            {"properties", std::move(properties)},
            {"required", std::move(required)},
            {"additionalProperties", false}};
}

}  // namespace osprey::tools
