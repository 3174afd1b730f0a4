#include "model/constrained/json_constraint.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

namespace osprey::model {

using json = nlohmann::ordered_json;

struct JsonGrammar::Node {
    enum class Kind : std::uint8_t { object, array, string, integer, number, literal };
    Kind kind = Kind::literal;
    struct Property {
        std::string key;  // "\"name\":"
        std::uint16_t value = 0;
        bool required = false;
    };
    std::vector<Property> properties;
    std::vector<std::uint32_t> rest;  // rest[i]: Σ over required j ≥ i of (1 + key + min value)
    std::uint16_t items = 0;
    std::uint32_t min_items = 0, max_items = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t min_length = 0, max_length = std::numeric_limits<std::uint32_t>::max();
    bool nonneg = false, positive = false, unit = false;
    std::uint32_t max_digits = 10, frac_digits = 8;
    std::vector<std::string> literals;
    std::uint32_t min_len = 1;
};

namespace {

using Node = JsonGrammar::Node;
using Kind = Node::Kind;

// Object phases.
constexpr std::uint8_t kOpen = 0, kAfterOpen = 1, kAfterValue = 2, kKey = 3, kValuePending = 4,
                       kComma = 5;
// Array phases (kOpen, kAfterOpen as above).
constexpr std::uint8_t kAfterItem = 2, kItemComma = 3;
// String phases.
constexpr std::uint8_t kBody = 1, kEscape = 2;
// Number phases.
constexpr std::uint8_t kStart = 0, kMinus = 1, kZero = 2, kInt = 3, kDot = 4, kFrac = 5, kOne = 6,
                       kOneDot = 7, kOneFrac = 8;

bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

bool number_accepting(std::uint8_t phase) {
    return phase == kZero || phase == kInt || phase == kFrac || phase == kOne || phase == kOneFrac;
}

std::uint32_t sat_sub(std::uint32_t a, std::uint32_t b) {
    return a > b ? a - b : 0;
}

const std::set<std::string>& ignored_keywords() {
    static const std::set<std::string> k = {
        "type",    "description", "title",    "$schema",    "$id",
        "default", "examples",    "$comment", "properties", "required",
        "items",   "minItems",    "maxItems", "minLength",  "maxLength",
        "minimum", "maximum",     "enum",     "const",      "additionalProperties"};
    return k;
}

}  // namespace

JsonGrammar::~JsonGrammar() = default;
JsonGrammar::JsonGrammar(JsonGrammar&&) noexcept = default;

JsonGrammar::JsonGrammar(const json& schema) {
    compile(schema, "schema");
    const Node& root = *nodes_.front();
    if (root.kind != Kind::object && root.kind != Kind::array) {
        throw SchemaError("schema: the top level must be an object or an array");
    }
}

std::size_t JsonGrammar::compile(const json& schema, const std::string& where) {
    if (!schema.is_object()) {
        throw SchemaError(where + ": a schema must be an object");
    }
    for (const auto& [key, value] : schema.items()) {
        if (ignored_keywords().count(key) == 0) {
            throw SchemaError(where + ": keyword '" + key +
                              "' is not supported by the constrained decoder");
        }
        (void)value;
    }
    if (nodes_.size() >= std::numeric_limits<std::uint16_t>::max()) {
        throw SchemaError(where + ": schema too large");
    }
    const std::size_t index = nodes_.size();
    nodes_.push_back(std::make_unique<Node>());
    auto n = std::make_unique<Node>();
    auto uint_of = [&](const char* key, std::uint32_t fallback) {
        auto it = schema.find(key);
        if (it == schema.end()) {
            return fallback;
        }
        if (!it->is_number_integer() || it->get<std::int64_t>() < 0) {
            throw SchemaError(where + "." + key + ": must be a non-negative integer");
        }
        return static_cast<std::uint32_t>(std::min<std::uint64_t>(
            it->get<std::uint64_t>(), std::numeric_limits<std::uint32_t>::max()));
    };
    if (schema.contains("enum") || schema.contains("const")) {
        n->kind = Kind::literal;
        json values =
            schema.contains("const") ? json::array({schema.at("const")}) : schema.at("enum");
        if (!values.is_array() || values.empty() || values.size() > 64) {
            throw SchemaError(where + ".enum: must be an array of 1 to 64 values");
        }
        for (const auto& v : values) {
            const std::string text = v.dump();
            if (v.is_string() && text.find('\\') != std::string::npos) {
                throw SchemaError(where + ".enum: strings needing escapes are not supported");
            }
            n->literals.push_back(text);
        }
    } else {
        const auto t = schema.find("type");
        if (t == schema.end() || !t->is_string()) {
            throw SchemaError(where + ": 'type' must be one type name");
        }
        const std::string type = t->get<std::string>();
        if (type == "object") {
            n->kind = Kind::object;
            const auto ap = schema.find("additionalProperties");
            if (ap != schema.end() && !(ap->is_boolean() && !ap->get<bool>())) {
                throw SchemaError(where + ".additionalProperties: only false is supported");
            }
            std::set<std::string> required;
            if (auto r = schema.find("required"); r != schema.end()) {
                for (const auto& name : *r) {
                    required.insert(name.get<std::string>());
                }
            }
            if (auto p = schema.find("properties"); p != schema.end()) {
                if (!p->is_object() || p->size() > 64) {
                    throw SchemaError(where + ".properties: an object of at most 64 properties");
                }
                for (const auto& [name, sub] : p->items()) {
                    const std::string key = json(name).dump();
                    if (key.find('\\') != std::string::npos) {
                        throw SchemaError(where +
                                          ".properties: names needing escapes are not "
                                          "supported");
                    }
                    Node::Property prop;
                    prop.key = key + ":";
                    prop.required = required.erase(name) > 0;
                    prop.value =
                        static_cast<std::uint16_t>(compile(sub, where + ".properties." + name));
                    n->properties.push_back(std::move(prop));
                }
            }
            if (!required.empty()) {
                throw SchemaError(where + ".required: '" + *required.begin() +
                                  "' is not among the properties");
            }
        } else if (type == "array") {
            n->kind = Kind::array;
            const auto it = schema.find("items");
            if (it == schema.end()) {
                throw SchemaError(where + ": an array needs 'items'");
            }
            n->min_items = uint_of("minItems", 0);
            n->max_items = uint_of("maxItems", n->max_items);
            n->items = static_cast<std::uint16_t>(compile(*it, where + ".items"));
        } else if (type == "string") {
            n->kind = Kind::string;
            n->min_length = uint_of("minLength", 0);
            n->max_length = uint_of("maxLength", n->max_length);
        } else if (type == "integer" || type == "number") {
            n->kind = type == "integer" ? Kind::integer : Kind::number;
            const auto lo = schema.find("minimum");
            const auto hi = schema.find("maximum");
            const bool has_lo = lo != schema.end();
            const bool has_hi = hi != schema.end();
            if (n->kind == Kind::integer && !has_hi &&
                (!has_lo || lo->get<double>() == 0.0 || lo->get<double>() == 1.0)) {
                n->nonneg = has_lo;
                n->positive = has_lo && lo->get<double>() == 1.0;
            } else if (n->kind == Kind::number && has_lo && lo->get<double>() == 0.0 && has_hi &&
                       hi->get<double>() == 1.0) {
                n->nonneg = true;
                n->unit = true;
            } else if (n->kind == Kind::number && !has_hi &&
                       (!has_lo || lo->get<double>() == 0.0)) {
                n->nonneg = has_lo;
            } else {
                throw SchemaError(where +
                                  ": only minimum 0 or 1 (integer), [0, 1] or minimum 0 "
                                  "(number) are supported as bounds");
            }
        } else if (type == "boolean") {
            n->kind = Kind::literal;
            n->literals = {"true", "false"};
        } else if (type == "null") {
            n->kind = Kind::literal;
            n->literals = {"null"};
        } else {
            throw SchemaError(where + ": unknown type '" + type + "'");
        }
    }
    // Minimal lengths (children are compiled already).
    switch (n->kind) {
        case Kind::object: {
            const std::size_t count = n->properties.size();
            n->rest.assign(count + 1, 0);
            for (std::size_t j = count; j-- > 0;) {
                const auto& p = n->properties[j];
                n->rest[j] =
                    n->rest[j + 1] + (p.required ? static_cast<std::uint32_t>(1 + p.key.size()) +
                                                       nodes_[p.value]->min_len
                                                 : 0);
            }
            n->min_len = 1 + std::max<std::uint32_t>(n->rest[0], 1);
            break;
        }
        case Kind::array: {
            const std::uint32_t item = nodes_[n->items]->min_len;
            n->min_len = 2 + n->min_items * item + (n->min_items > 0 ? n->min_items - 1 : 0);
            break;
        }
        case Kind::string:
            n->min_len = 2 + n->min_length;
            break;
        case Kind::integer:
        case Kind::number:
            n->min_len = 1;
            break;
        case Kind::literal: {
            std::size_t m = std::numeric_limits<std::size_t>::max();
            for (const auto& l : n->literals) {
                m = std::min(m, l.size());
            }
            n->min_len = static_cast<std::uint32_t>(m);
            break;
        }
    }
    nodes_[index] = std::move(n);
    return index;
}

// ---- JsonState ---------------------------------------------------------------------------------

JsonState::JsonState(const JsonGrammar& grammar) : grammar_(&grammar) {}

void JsonState::assign(const JsonState& other) {
    grammar_ = other.grammar_;
    bytes_ = other.bytes_;
    depth_ = other.depth_;
    done_ = other.done_;
    std::memcpy(frames_.data(), other.frames_.data(), sizeof(JsonFrame) * depth_);
}

bool JsonState::step(std::string_view bytes) {
    for (const char c : bytes) {
        if (!step(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

bool JsonState::step(unsigned char byte) {
    if (!feed(byte)) {
        return false;
    }
    ++bytes_;
    return true;
}

bool JsonState::start_value(std::uint16_t node, unsigned char byte) {
    if (depth_ >= kMaxDepth) {
        return false;
    }
    JsonFrame& f = frames_[depth_++];
    f = JsonFrame{};
    f.node = node;
    const Node& n = grammar_->node(node);
    if (n.kind == Kind::literal) {
        f.alive = n.literals.size() >= 64 ? ~0ULL : ((1ULL << n.literals.size()) - 1);
    }
    (void)byte;
    return true;
}

bool JsonState::feed(unsigned char b) {
    if (done_) {
        return false;
    }
    if (depth_ == 0) {
        start_value(static_cast<std::uint16_t>(grammar_->root()), b);
    }
    auto pop = [this] {
        --depth_;
        if (depth_ == 0) {
            done_ = true;
        }
    };
    while (true) {
        JsonFrame& f = frames_[depth_ - 1];
        const Node& n = grammar_->node(f.node);
        switch (n.kind) {
            case Kind::object: {
                const auto count = static_cast<std::uint16_t>(n.properties.size());
                // The candidates for the next key from property f.index: up to the first
                // required one.
                auto candidates = [&]() {
                    std::uint64_t mask = 0;
                    for (std::uint16_t j = f.index; j < count; ++j) {
                        mask |= 1ULL << j;
                        if (n.properties[j].required) {
                            break;
                        }
                    }
                    return mask;
                };
                switch (f.phase) {
                    case kOpen:
                        if (b != '{') {
                            return false;
                        }
                        f.phase = kAfterOpen;
                        return true;
                    case kAfterOpen:
                    case kComma:
                        if (b == '}' && f.phase == kAfterOpen && n.rest[f.index] == 0) {
                            pop();
                            return true;
                        }
                        if (b != '"' || f.index >= count) {
                            return false;
                        }
                        f.alive = candidates();
                        f.count = 1;
                        f.phase = kKey;
                        return true;
                    case kAfterValue:
                        if (b == '}' && n.rest[f.index] == 0) {
                            pop();
                            return true;
                        }
                        if (b == ',' && f.index < count) {
                            f.phase = kComma;
                            return true;
                        }
                        return false;
                    case kKey: {
                        std::uint64_t alive = 0;
                        for (std::uint16_t j = f.index; j < count; ++j) {
                            if ((f.alive >> j & 1ULL) != 0) {
                                const std::string& key = n.properties[j].key;
                                if (f.count < key.size() &&
                                    static_cast<unsigned char>(key[f.count]) == b) {
                                    alive |= 1ULL << j;
                                }
                            }
                        }
                        if (alive == 0) {
                            return false;
                        }
                        f.alive = alive;
                        ++f.count;
                        for (std::uint16_t j = f.index; j < count; ++j) {
                            if ((alive >> j & 1ULL) != 0 && n.properties[j].key.size() == f.count) {
                                f.phase = kValuePending;
                                f.count = j;
                                f.index = static_cast<std::uint16_t>(j + 1);
                                break;
                            }
                        }
                        return true;
                    }
                    case kValuePending: {
                        const std::uint16_t value = n.properties[f.count].value;
                        f.phase = kAfterValue;
                        if (!start_value(value, b)) {
                            return false;
                        }
                        continue;  // the value's frame takes the byte
                    }
                    default:
                        return false;
                }
            }
            case Kind::array:
                switch (f.phase) {
                    case kOpen:
                        if (b != '[') {
                            return false;
                        }
                        f.phase = kAfterOpen;
                        return true;
                    case kAfterOpen:
                        if (b == ']' && n.min_items == 0) {
                            pop();
                            return true;
                        }
                        if (n.max_items == 0) {
                            return false;
                        }
                        [[fallthrough]];
                    case kItemComma:
                        f.phase = kAfterItem;
                        ++f.index;
                        if (!start_value(n.items, b)) {
                            return false;
                        }
                        continue;
                    case kAfterItem:
                        if (b == ']' && f.index >= n.min_items) {
                            pop();
                            return true;
                        }
                        if (b == ',' && f.index < n.max_items) {
                            f.phase = kItemComma;
                            return true;
                        }
                        return false;
                    default:
                        return false;
                }
            case Kind::string:
                switch (f.phase) {
                    case kOpen:
                        if (b != '"') {
                            return false;
                        }
                        f.phase = kBody;
                        return true;
                    case kBody:
                        if (f.utf8_left > 0) {
                            if (b < f.utf8_lo || b > f.utf8_hi) {
                                return false;
                            }
                            --f.utf8_left;
                            f.utf8_lo = 0x80;
                            f.utf8_hi = 0xBF;
                            return true;
                        }
                        if (b == '"') {
                            if (f.count < n.min_length) {
                                return false;
                            }
                            pop();
                            return true;
                        }
                        if (f.count >= n.max_length || b < 0x20 || b == 0x7F) {
                            return false;
                        }
                        if (b == '\\') {
                            f.phase = kEscape;
                            return true;
                        }
                        if (b < 0x80) {
                            ++f.count;
                            return true;
                        }
                        if (b >= 0xC2 && b <= 0xDF) {
                            f.utf8_left = 1;
                        } else if (b >= 0xE0 && b <= 0xEF) {
                            f.utf8_left = 2;
                            f.utf8_lo = b == 0xE0 ? 0xA0 : 0x80;
                            f.utf8_hi = b == 0xED ? 0x9F : 0xBF;
                        } else if (b >= 0xF0 && b <= 0xF4) {
                            f.utf8_left = 3;
                            f.utf8_lo = b == 0xF0 ? 0x90 : 0x80;
                            f.utf8_hi = b == 0xF4 ? 0x8F : 0xBF;
                        } else {
                            return false;
                        }
                        ++f.count;
                        return true;
                    case kEscape:
                        if (std::strchr("\"\\/bfnrt", b) == nullptr || b == 0) {
                            return false;
                        }
                        ++f.count;
                        f.phase = kBody;
                        return true;
                    default:
                        return false;
                }
            case Kind::integer:
            case Kind::number: {
                const bool is_number = n.kind == Kind::number;
                switch (f.phase) {
                    case kStart:
                        if (b == '-' && !n.nonneg) {
                            f.phase = kMinus;
                            return true;
                        }
                        [[fallthrough]];
                    case kMinus:
                        if (b == '0' && !n.positive) {
                            f.phase = kZero;
                            return true;
                        }
                        if (n.unit) {
                            if (b == '1') {
                                f.phase = kOne;
                                return true;
                            }
                            return false;
                        }
                        if (b >= '1' && b <= '9') {
                            f.phase = kInt;
                            f.count = 1;
                            return true;
                        }
                        return false;
                    case kZero:
                        if (b == '.' && is_number) {
                            f.phase = kDot;
                            f.count = 0;
                            return true;
                        }
                        break;
                    case kInt:
                        if (is_digit(b)) {
                            if (f.count >= n.max_digits) {
                                return false;
                            }
                            ++f.count;
                            return true;
                        }
                        if (b == '.' && is_number) {
                            f.phase = kDot;
                            f.count = 0;
                            return true;
                        }
                        break;
                    case kDot:
                        if (!is_digit(b)) {
                            return false;
                        }
                        f.phase = kFrac;
                        f.count = 1;
                        return true;
                    case kFrac:
                        if (is_digit(b)) {
                            if (f.count >= n.frac_digits) {
                                return false;
                            }
                            ++f.count;
                            return true;
                        }
                        break;
                    case kOne:
                        if (b == '.') {
                            f.phase = kOneDot;
                            return true;
                        }
                        break;
                    case kOneDot:
                        if (b != '0') {
                            return false;
                        }
                        f.phase = kOneFrac;
                        f.count = 1;
                        return true;
                    case kOneFrac:
                        if (b == '0') {
                            if (f.count >= n.frac_digits) {
                                return false;
                            }
                            ++f.count;
                            return true;
                        }
                        break;
                    default:
                        return false;
                }
                // Not part of the number: it ends here if it may, and the byte goes to the
                // enclosing value.
                if (!number_accepting(f.phase) || is_digit(b)) {
                    return false;
                }
                pop();
                if (done_) {
                    return false;
                }
                continue;
            }
            case Kind::literal: {
                std::uint64_t alive = 0;
                bool complete = false;
                for (std::size_t j = 0; j < n.literals.size(); ++j) {
                    if ((f.alive >> j & 1ULL) != 0) {
                        const std::string& l = n.literals[j];
                        if (f.index < l.size() && static_cast<unsigned char>(l[f.index]) == b) {
                            alive |= 1ULL << j;
                            complete = complete || l.size() == f.index + 1U;
                        }
                    }
                }
                if (alive == 0) {
                    return false;
                }
                f.alive = alive;
                ++f.index;
                if (complete) {
                    pop();
                }
                return true;
            }
        }
        return false;
    }
}

std::uint32_t JsonState::frame_cost(const JsonFrame& f, bool innermost) const {
    const Node& n = grammar_->node(f.node);
    switch (n.kind) {
        case Kind::object: {
            const auto count = static_cast<std::uint16_t>(n.properties.size());
            auto after = [&](std::uint16_t j) {  // the value of j, then the rest, then '}'
                return grammar_->node(n.properties[j].value).min_len + n.rest[j + 1] + 1;
            };
            switch (f.phase) {
                case kOpen:
                    return n.min_len;
                case kAfterOpen:
                    return std::max<std::uint32_t>(n.rest[f.index], 1);
                case kAfterValue:
                    return n.rest[f.index] + 1;
                case kValuePending:
                    return after(static_cast<std::uint16_t>(f.count));
                case kComma:
                case kKey: {
                    std::uint32_t best = std::numeric_limits<std::uint32_t>::max();
                    for (std::uint16_t j = f.index; j < count; ++j) {
                        const bool candidate = f.phase == kKey ? (f.alive >> j & 1ULL) != 0 : true;
                        if (candidate) {
                            const auto key = static_cast<std::uint32_t>(n.properties[j].key.size());
                            const std::uint32_t used = f.phase == kKey ? f.count : 0;
                            best = std::min(best, key - used + after(j));
                        }
                        if (f.phase == kComma && n.properties[j].required) {
                            break;
                        }
                    }
                    return best;
                }
                default:
                    return 0;
            }
        }
        case Kind::array: {
            const std::uint32_t item = grammar_->node(n.items).min_len;
            switch (f.phase) {
                case kOpen:
                    return n.min_len;
                case kAfterOpen:
                    return n.min_items == 0 ? 1 : n.min_items * item + (n.min_items - 1) + 1;
                case kAfterItem:
                    return sat_sub(n.min_items, f.index) * (1 + item) + 1;
                case kItemComma:
                    return item + sat_sub(n.min_items, f.index + 1) * (1 + item) + 1;
                default:
                    return 0;
            }
        }
        case Kind::string:
            switch (f.phase) {
                case kOpen:
                    return n.min_len;
                case kBody:
                    return f.utf8_left + sat_sub(n.min_length, f.count) + 1;
                case kEscape:
                    return 1 + sat_sub(n.min_length, f.count + 1) + 1;
                default:
                    return 0;
            }
        case Kind::integer:
        case Kind::number:
            return number_accepting(f.phase) ? 0 : 1;
        case Kind::literal: {
            std::uint32_t best = std::numeric_limits<std::uint32_t>::max();
            for (std::size_t j = 0; j < n.literals.size(); ++j) {
                if ((f.alive >> j & 1ULL) != 0) {
                    best = std::min(best, static_cast<std::uint32_t>(n.literals[j].size()) -
                                              static_cast<std::uint32_t>(f.index));
                }
            }
            return best;
        }
    }
    (void)innermost;
    return 0;
}

std::uint32_t JsonState::min_completion() const {
    if (done_) {
        return 0;
    }
    if (depth_ == 0) {
        return grammar_->node(grammar_->root()).min_len;
    }
    std::uint32_t total = 0;
    for (std::size_t i = 0; i < depth_; ++i) {
        total += frame_cost(frames_[i], i + 1 == depth_);
    }
    return total;
}

std::optional<JsonState::StringRoom> JsonState::string_room() const {
    if (done_ || depth_ == 0) {
        return std::nullopt;
    }
    const JsonFrame& f = frames_[depth_ - 1];
    const Node& n = grammar_->node(f.node);
    if (n.kind != Kind::string || f.phase != kBody || f.utf8_left != 0) {
        return std::nullopt;
    }
    StringRoom room;
    room.chars_left = sat_sub(n.max_length, f.count);
    room.chars_needed = sat_sub(n.min_length, f.count);
    room.min_completion = min_completion();
    return room;
}

namespace {

// Characters when `b` is plain string content (see TokenTrie::plain_chars), else -1.
std::int32_t plain_chars_of(std::string_view b) {
    std::int32_t chars = 0;
    for (std::size_t i = 0; i < b.size();) {
        const auto c = static_cast<unsigned char>(b[i]);
        std::size_t extra = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7F) {
            return -1;
        }
        if (c < 0x80) {
            extra = 0;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return -1;
        }
        if (extra > 0 && i + extra >= b.size()) {
            return -1;  // the sequence does not end inside the token
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto d = static_cast<unsigned char>(b[i + k]);
            if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) {
                return -1;
            }
        }
        i += extra + 1;
        ++chars;
    }
    return chars;
}

}  // namespace

// ---- TokenTrie ---------------------------------------------------------------------------------

TokenTrie::TokenTrie(const Tokenizer& tokenizer) : vocab_size_(tokenizer.id_limit()) {
    std::set<std::int32_t> added;
    for (const auto& t : tokenizer.added_tokens()) {
        added.insert(static_cast<std::int32_t>(t.id));
    }
    strings_.resize(vocab_size_);
    std::vector<std::int32_t> order;
    for (std::size_t id = 0; id < vocab_size_; ++id) {
        const auto tid = static_cast<std::int32_t>(id);
        if (!tokenizer.contains(tid) || added.count(tid) != 0 || tokenizer.is_special(tid)) {
            continue;
        }
        const std::string_view b = tokenizer.token_bytes(tid);
        if (b.empty()) {
            continue;
        }
        strings_[id] = std::string(b);
        order.push_back(tid);
    }
    plain_.assign(vocab_size_, -1);
    for (const std::int32_t id : order) {
        plain_[static_cast<std::size_t>(id)] =
            plain_chars_of(strings_[static_cast<std::size_t>(id)]);
        if (plain_[static_cast<std::size_t>(id)] < 0) {
            non_plain_.push_back(id);
        }
    }
    std::sort(non_plain_.begin(), non_plain_.end());
    std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
        const auto& sa = strings_[static_cast<std::size_t>(a)];
        const auto& sb = strings_[static_cast<std::size_t>(b)];
        return sa < sb || (sa == sb && a < b);
    });
    std::vector<std::uint32_t> path;  // node indices of the current prefix
    std::string previous;
    for (const std::int32_t id : order) {
        const std::string& s = strings_[static_cast<std::size_t>(id)];
        std::size_t common = 0;
        while (common < path.size() && common < s.size() && previous[common] == s[common]) {
            ++common;
        }
        while (path.size() > common) {
            nodes_[path.back()].end = static_cast<std::uint32_t>(nodes_.size());
            path.pop_back();
        }
        for (std::size_t k = common; k < s.size(); ++k) {
            Node n;
            n.byte = static_cast<unsigned char>(s[k]);
            n.depth = static_cast<std::uint16_t>(k + 1);
            path.push_back(static_cast<std::uint32_t>(nodes_.size()));
            nodes_.push_back(n);
        }
        Node& last = nodes_[path.back()];
        if (last.token_count == 0) {
            last.first_token = static_cast<std::uint32_t>(tokens_.size());
        }
        tokens_.push_back(id);
        ++last.token_count;
        max_depth_ = std::max(max_depth_, s.size());
        previous = s;
    }
    while (!path.empty()) {
        nodes_[path.back()].end = static_cast<std::uint32_t>(nodes_.size());
        path.pop_back();
    }
}

std::string_view TokenTrie::bytes(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= strings_.size()) {
        return {};
    }
    return strings_[static_cast<std::size_t>(id)];
}

bool TokenTrie::usable(std::int32_t id) const {
    return !bytes(id).empty();
}

// ---- JsonConstraint ----------------------------------------------------------------------------

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonGrammar> grammar,
                               std::shared_ptr<const TokenTrie> trie, std::uint32_t max_bytes)
    : grammar_(std::move(grammar)),
      trie_(std::move(trie)),
      max_bytes_(max_bytes),
      state_(*grammar_) {
    if (state_.min_completion() > max_bytes_) {
        throw SchemaError("the answer budget of " + std::to_string(max_bytes_) +
                          " bytes is below the shortest valid document (" +
                          std::to_string(state_.min_completion()) + " bytes)");
    }
}

void JsonConstraint::allowed_tokens(std::vector<std::uint8_t>& allowed) const {
    allowed.assign(trie_->vocab_size(), 0);
    if (state_.done()) {
        return;
    }
    if (const auto room = state_.string_room()) {
        // Inside a string (the common case, and the one where nearly every token is allowed):
        // plain tokens are decided by arithmetic, only the others are walked.
        const std::uint32_t bytes = state_.bytes();
        for (std::size_t id = 0; id < allowed.size(); ++id) {
            const std::int32_t chars = trie_->plain_chars(static_cast<std::int32_t>(id));
            if (chars <= 0) {
                continue;
            }
            const auto c = static_cast<std::uint32_t>(chars);
            const auto len =
                static_cast<std::uint32_t>(trie_->bytes(static_cast<std::int32_t>(id)).size());
            const std::uint32_t after = room->min_completion - std::min(c, room->chars_needed);
            allowed[id] = c <= room->chars_left && bytes + len + after <= max_bytes_ ? 1 : 0;
        }
        for (const std::int32_t id : trie_->non_plain()) {
            allowed[static_cast<std::size_t>(id)] = allows(id) ? 1 : 0;
        }
        return;
    }
    std::vector<JsonState> stack(trie_->max_depth() + 1, state_);
    stack[0].assign(state_);
    const auto& nodes = trie_->nodes();
    for (std::size_t i = 0; i < nodes.size();) {
        const TokenTrie::Node& n = nodes[i];
        JsonState& s = stack[n.depth];
        s.assign(stack[n.depth - 1U]);
        if (!s.step(n.byte) || s.bytes() + s.min_completion() > max_bytes_) {
            // Past the budget already: longer tokens below only add bytes.
            i = n.end;
            continue;
        }
        for (const std::int32_t id : trie_->tokens_at(n)) {
            allowed[static_cast<std::size_t>(id)] = 1;
        }
        ++i;
    }
}

bool JsonConstraint::allows(std::int32_t id) const {
    const std::string_view b = trie_->bytes(id);
    if (b.empty() || state_.done()) {
        return false;
    }
    JsonState s(*grammar_);
    s.assign(state_);
    return s.step(b) && s.bytes() + s.min_completion() <= max_bytes_;
}

void JsonConstraint::allowed_tokens_reference(std::vector<std::uint8_t>& allowed) const {
    allowed.assign(trie_->vocab_size(), 0);
    for (std::size_t id = 0; id < allowed.size(); ++id) {
        allowed[id] = allows(static_cast<std::int32_t>(id)) ? 1 : 0;
    }
}

void JsonConstraint::accept(std::int32_t id) {
    if (!allows(id)) {
        throw std::logic_error("token " + std::to_string(id) +
                               " is not allowed by the JSON constraint here");
    }
    const std::string_view b = trie_->bytes(id);
    state_.step(b);
    text_.append(b);
}

}  // namespace osprey::model
