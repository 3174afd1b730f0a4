#include "model/chat/python_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace osprey::model {
namespace {

// Python's float repr: the shortest round-trip digits; positional notation when the decimal
// exponent is in [-4, 16), else d.ddde+XX.
void python_float(double v, std::string& out) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v < 0 ? "-Infinity" : "Infinity";
        return;
    }
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
    if (!sci.empty() && sci[0] == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    const auto e = sci.find('e');
    std::string digits;
    for (const char c : sci.substr(0, e)) {
        if (c != '.') {
            digits += c;
        }
    }
    int exponent = 0;
    std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                    exponent);
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out += "0.";
            out.append(static_cast<std::size_t>(-exponent - 1), '0');
            out += digits;
        } else {
            const auto point = static_cast<std::size_t>(exponent) + 1;
            if (digits.size() <= point) {
                out += digits;
                out.append(point - digits.size(), '0');
                out += ".0";
            } else {
                out += digits.substr(0, point);
                out += '.';
                out += digits.substr(point);
            }
        }
        return;
    }
    out += digits[0];
    if (digits.size() > 1) {
        out += '.';
        out += digits.substr(1);
    }
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
}

}  // namespace

void python_json_string(std::string_view text, std::string& out) {
    out += '"';
    for (const char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void python_json_dump(const nlohmann::ordered_json& value, std::string& out) {
    switch (value.type()) {
        case nlohmann::ordered_json::value_t::null:
        case nlohmann::ordered_json::value_t::discarded:
            out += "null";
            break;
        case nlohmann::ordered_json::value_t::boolean:
            out += value.get<bool>() ? "true" : "false";
            break;
        case nlohmann::ordered_json::value_t::number_integer:
            out += std::to_string(value.get<std::int64_t>());
            break;
        case nlohmann::ordered_json::value_t::number_unsigned:
            out += std::to_string(value.get<std::uint64_t>());
            break;
        case nlohmann::ordered_json::value_t::number_float:
            python_float(value.get<double>(), out);
            break;
        case nlohmann::ordered_json::value_t::string:
            python_json_string(value.get_ref<const std::string&>(), out);
            break;
        case nlohmann::ordered_json::value_t::array: {
            out += '[';
            bool first = true;
            for (const auto& item : value) {
                if (!first) {
                    out += ", ";
                }
                first = false;
                python_json_dump(item, out);
            }
            out += ']';
            break;
        }
        case nlohmann::ordered_json::value_t::object: {
            out += '{';
            bool first = true;
            for (const auto& [k, v] : value.items()) {
                if (!first) {
                    out += ", ";
                }
                first = false;
                python_json_string(k, out);
                out += ": ";
                python_json_dump(v, out);
            }
            out += '}';
            break;
        }
        case nlohmann::ordered_json::value_t::binary:
            out += "null";
            break;
    }
}

std::string python_json_dumps(const nlohmann::ordered_json& value) {
    std::string out;
    python_json_dump(value, out);
    return out;
}

}  // namespace osprey::model
