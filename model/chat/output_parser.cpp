#include "model/chat/output_parser.hpp"

#include <algorithm>
#include <initializer_list>

#include "model/chat/python_json.hpp"

namespace osprey::model {
namespace {

namespace tk = chat_tokens;
constexpr std::string_view kBos = tk::kBos;
constexpr std::string_view kEos = tk::kEos;
constexpr std::string_view kThinkStart = tk::kThinkStart;
constexpr std::string_view kThinkEnd = tk::kThinkEnd;
constexpr std::string_view kDsml = tk::kDsml;
constexpr std::string_view kToolStart = "\n\n<｜DSML｜tool_calls";
constexpr std::string_view kNlInvoke = ">\n<｜DSML｜invoke";
constexpr std::string_view kNlBlockEnd = ">\n</｜DSML｜tool_calls>";
constexpr std::string_view kNlParam = ">\n<｜DSML｜parameter";
constexpr std::string_view kNlInvokeEnd = ">\n</｜DSML｜invoke";
constexpr std::string_view kParam = "<｜DSML｜parameter";
constexpr std::string_view kInvokeEnd = "</｜DSML｜invoke";
constexpr std::string_view kParamEnd = "/｜DSML｜parameter";
constexpr std::string_view kNameOpen = " name=\"";
constexpr std::string_view kHeaderTrue = "\" string=\"true\">";
constexpr std::string_view kHeaderFalse = "\" string=\"false\">";
constexpr std::size_t npos = std::string_view::npos;

struct Scan {
    std::size_t hit = npos;     // start of the earliest complete marker
    std::size_t marker = npos;  // its index in the list
    std::size_t safe = 0;       // text before this cannot be part of any marker
};

// The earliest complete marker at or after `from` — unless a marker could still complete at an
// earlier position once more text arrives (then nothing is decided yet). Among markers starting at
// the same place the first listed wins, as in the official _read_until_stop.
Scan scan(std::string_view buf, std::size_t from, std::initializer_list<std::string_view> markers,
          bool final) {
    Scan s;
    std::size_t index = 0;
    std::size_t longest = 0;
    for (const auto m : markers) {
        const auto p = buf.find(m, from);
        if (p != npos && p < s.hit) {
            s.hit = p;
            s.marker = index;
        }
        longest = std::max(longest, m.size());
        ++index;
    }
    std::size_t partial = npos;
    if (!final) {
        const std::size_t lo = std::max(from, buf.size() > longest ? buf.size() - longest + 1 : 0);
        for (std::size_t h = lo; h < buf.size() && partial == npos; ++h) {
            const auto tail = buf.substr(h);
            for (const auto m : markers) {
                if (m.size() > tail.size() && m.substr(0, tail.size()) == tail) {
                    partial = h;
                    break;
                }
            }
        }
    }
    if (s.hit != npos && (partial == npos || s.hit < partial)) {
        s.safe = s.hit;
    } else {
        s.hit = npos;
        s.marker = npos;
        s.safe = partial == npos ? buf.size() : partial;
    }
    return s;
}

constexpr int kWait = -1;
constexpr int kMismatch = -2;

// Which literal `rest` starts with; kWait when it is still a prefix of one (and more may come).
int expect(std::string_view rest, std::initializer_list<std::string_view> literals, bool final) {
    int index = 0;
    bool prefix = false;
    for (const auto l : literals) {
        if (rest.substr(0, l.size()) == l) {
            return index;
        }
        if (rest.size() < l.size() && l.substr(0, rest.size()) == rest) {
            prefix = true;
        }
        ++index;
    }
    return prefix && !final ? kWait : kMismatch;
}

// Python's str.isspace() for the code point starting at text[i]; returns its length or 0.
std::size_t python_space_at(std::string_view text, std::size_t i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if ((b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20)) {
        return 1;
    }
    const auto starts = [&](std::string_view s) { return text.substr(i, s.size()) == s; };
    for (const std::string_view s : {"\xC2\x85", "\xC2\xA0"}) {
        if (starts(s)) {
            return 2;
        }
    }
    for (const std::string_view s : {"\xE1\x9A\x80", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF",
                                     "\xE2\x81\x9F", "\xE3\x80\x80"}) {
        if (starts(s)) {
            return 3;
        }
    }
    if (text.substr(i, 2) == "\xE2\x80" && i + 2 < text.size() &&
        static_cast<unsigned char>(text[i + 2]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 2]) <= 0x8A) {
        return 3;
    }
    return 0;
}

// The official `^\s*name="(.*?)">\n$` on the text between <｜DSML｜invoke and the next tag.
std::optional<std::string> invoke_name(std::string_view part) {
    std::size_t i = 0;
    while (i < part.size()) {
        const std::size_t n = python_space_at(part, i);
        if (n == 0) {
            break;
        }
        i += n;
    }
    // `\s*` may give back whitespace; "name" starts with a non-space, so greedy is exact.
    if (part.substr(i, 6) != "name=\"") {
        return std::nullopt;
    }
    const std::string_view rest = part.substr(i + 6);
    // `$` also matches before one final newline.
    for (const std::string_view end : {std::string_view("\">\n"), std::string_view("\">\n\n")}) {
        if (rest.size() >= end.size() && rest.substr(rest.size() - end.size()) == end) {
            return std::string(rest.substr(0, rest.size() - end.size()));
        }
    }
    return std::nullopt;
}

std::string json_quoted(std::string_view s) {
    std::string out;
    python_json_string(s, out);
    return out;
}

}  // namespace

const char* to_string(ParseEventKind kind) {
    switch (kind) {
        case ParseEventKind::reasoning_delta:
            return "reasoning_delta";
        case ParseEventKind::text_delta:
            return "text_delta";
        case ParseEventKind::tool_call_begin:
            return "tool_call_begin";
        case ParseEventKind::parameter_begin:
            return "parameter_begin";
        case ParseEventKind::parameter_value_delta:
            return "parameter_value_delta";
        case ParseEventKind::parameter_end:
            return "parameter_end";
        case ParseEventKind::tool_call_end:
            return "tool_call_end";
        case ParseEventKind::end_of_turn:
            return "end_of_turn";
        case ParseEventKind::error:
            return "error";
    }
    return "unknown";
}

OutputParser::OutputParser(ThinkingMode mode)
    : state_(mode == ThinkingMode::thinking ? State::reasoning : State::content) {}

std::vector<ParseEvent> OutputParser::feed(std::string_view text) {
    std::vector<ParseEvent> out;
    if (state_ == State::failed) {
        return out;
    }
    buf_.append(text);
    run(false, out);
    return out;
}

std::vector<ParseEvent> OutputParser::finish() {
    std::vector<ParseEvent> out;
    if (state_ == State::failed || state_ == State::done) {
        run(true, out);
        return out;
    }
    run(true, out);
    switch (state_) {
        case State::reasoning:
            fail(buf_.size(), "generation ended inside the reasoning: </think> never came", out);
            break;
        case State::content:
            fail(buf_.size(), "generation ended without <｜end▁of▁sentence｜>", out);
            break;
        case State::after_block:
            message_.complete = true;
            out.push_back({ParseEventKind::end_of_turn, {}, 0, true, {}, {}, buf_.size()});
            state_ = State::done;
            break;
        case State::done:
        case State::failed:
            break;
        default:
            fail(buf_.size(), "generation ended inside the tool-call block", out);
    }
    return out;
}

OutputRegion OutputParser::region() const {
    switch (state_) {
        case State::reasoning:
            return OutputRegion::reasoning;
        case State::content:
            return tail_tool_marker_ ? OutputRegion::protocol : OutputRegion::text;
        case State::param_value:
            return param_string_ ? OutputRegion::string_value : OutputRegion::json_value;
        case State::done:
        case State::failed:
            return OutputRegion::done;
        default:
            return OutputRegion::protocol;
    }
}

void OutputParser::run(bool final, std::vector<ParseEvent>& out) {
    while (state_ != State::failed && step(final, out)) {
    }
}

void OutputParser::fail(std::size_t offset, std::string message, std::vector<ParseEvent>& out) {
    std::string text = "byte " + std::to_string(offset) + ": " + std::move(message);
    message_.error = text;
    out.push_back(
        {ParseEventKind::error, std::move(text), message_.tool_calls.size(), true, {}, {}, offset});
    state_ = State::failed;
}

void OutputParser::emit_delta(ParseEventKind kind, std::size_t end, std::vector<ParseEvent>& out) {
    if (end <= pos_) {
        return;
    }
    std::string piece = buf_.substr(pos_, end - pos_);
    if (kind == ParseEventKind::reasoning_delta) {
        message_.reasoning_content += piece;
    } else if (kind == ParseEventKind::text_delta) {
        message_.content += piece;
    }
    ParseEvent e{kind, std::move(piece), message_.tool_calls.size(), param_string_, {}, {}, pos_};
    out.push_back(std::move(e));
    pos_ = end;
}

void OutputParser::end_tool_call(std::vector<ParseEvent>& out) {
    ParsedToolCall call;
    call.name = tool_name_;
    call.arguments = "{" + arguments_ + "}";
    call.raw = buf_.substr(invoke_start_, invoke_end_ + kInvokeEnd.size() + 1 - invoke_start_);
    out.push_back({ParseEventKind::tool_call_end, call.name, message_.tool_calls.size(), true,
                   call.arguments, call.raw, invoke_start_});
    message_.tool_calls.push_back(std::move(call));
    pending_call_ = false;
}

bool OutputParser::step(bool final, std::vector<ParseEvent>& out) {
    const std::string_view buf(buf_);
    switch (state_) {
        case State::reasoning: {
            const Scan s =
                scan(buf, pos_, {kThinkEnd, kToolStart, kBos, kEos, kThinkStart, kDsml}, final);
            emit_delta(ParseEventKind::reasoning_delta, s.safe, out);
            if (s.hit == npos) {
                return false;
            }
            switch (s.marker) {
                case 0:
                    pos_ = s.hit + kThinkEnd.size();
                    state_ = State::content;
                    return true;
                case 1:
                    fail(s.hit, "a tool-call block began before </think> closed the reasoning",
                         out);
                    return false;
                case 3:
                    fail(s.hit, "<｜end▁of▁sentence｜> inside the reasoning: </think> never came",
                         out);
                    return false;
                default: {
                    const std::string_view tokens[] = {kThinkEnd, kToolStart,  kBos,
                                                       kEos,      kThinkStart, kDsml};
                    fail(s.hit,
                         "unexpected special token '" + std::string(tokens[s.marker]) +
                             "' in the reasoning",
                         out);
                    return false;
                }
            }
        }
        case State::content: {
            const Scan s =
                scan(buf, pos_, {kEos, kToolStart, kBos, kThinkStart, kThinkEnd, kDsml}, final);
            emit_delta(ParseEventKind::text_delta, s.safe, out);
            tail_tool_marker_ = false;
            if (s.hit == npos) {
                const auto tail = buf.substr(s.safe);
                tail_tool_marker_ = tail.size() > 3 && kToolStart.substr(0, tail.size()) == tail;
                return false;
            }
            if (s.marker == 0) {
                pos_ = s.hit + kEos.size();
                message_.complete = true;
                out.push_back({ParseEventKind::end_of_turn, {}, 0, true, {}, {}, s.hit});
                state_ = State::done;
                return true;
            }
            if (s.marker == 1) {
                block_start_ = s.hit;
                pos_ = s.hit + kToolStart.size();
                state_ = State::block;
                return true;
            }
            const std::string_view tokens[] = {kEos,        kToolStart, kBos,
                                               kThinkStart, kThinkEnd,  kDsml};
            fail(s.hit,
                 "unexpected special token '" + std::string(tokens[s.marker]) +
                     "' in the answer text (tool calls start with \"\\n\\n<｜DSML｜tool_calls>\")",
                 out);
            return false;
        }
        case State::block: {
            const int r = expect(buf.substr(pos_), {kNlInvoke, kNlBlockEnd}, final);
            if (r == kWait) {
                return false;
            }
            if (r == kMismatch) {
                fail(pos_,
                     std::string("expected '>\\n' then '<｜DSML｜invoke' or "
                                 "'</｜DSML｜tool_calls>' after ") +
                         (pending_call_ ? "'</｜DSML｜invoke'" : "'<｜DSML｜tool_calls'"),
                     out);
                return false;
            }
            if (pending_call_) {
                end_tool_call(out);
            }
            if (r == 0) {
                invoke_start_ = pos_ + 2;
                pos_ += kNlInvoke.size();
                tool_name_.clear();
                param_names_.clear();
                arguments_.clear();
                state_ = State::invoke_name;
            } else {
                pos_ += kNlBlockEnd.size();
                message_.tool_calls_raw = buf_.substr(block_start_, pos_ - block_start_);
                state_ = State::after_block;
            }
            return true;
        }
        case State::invoke_name: {
            const Scan s = scan(buf, pos_, {kParam, kInvokeEnd, kEos}, final);
            if (s.hit == npos) {
                return false;
            }
            if (s.marker == 2) {
                fail(s.hit, "<｜end▁of▁sentence｜> inside a tool call (in its name)", out);
                return false;
            }
            const auto name = invoke_name(buf.substr(pos_, s.hit - pos_));
            if (!name) {
                fail(pos_, "expected ' name=\"TOOL\">\\n' after '<｜DSML｜invoke'", out);
                return false;
            }
            tool_name_ = *name;
            out.push_back({ParseEventKind::tool_call_begin,
                           tool_name_,
                           message_.tool_calls.size(),
                           true,
                           {},
                           {},
                           invoke_start_});
            if (s.marker == 0) {
                pos_ = s.hit + kParam.size();
                state_ = State::param_header;
            } else {
                invoke_end_ = s.hit;
                pos_ = s.hit + kInvokeEnd.size();
                pending_call_ = true;
                state_ = State::block;
            }
            return true;
        }
        case State::param_header: {
            const int r = expect(buf.substr(pos_), {kNameOpen}, final);
            if (r == kWait) {
                return false;
            }
            if (r == kMismatch) {
                fail(pos_,
                     "expected ' name=\"KEY\" string=\"true|false\">' after '<｜DSML｜parameter'",
                     out);
                return false;
            }
            const std::size_t name_start = pos_ + kNameOpen.size();
            const Scan s =
                scan(buf, name_start, {kHeaderTrue, kHeaderFalse, kParamEnd, kEos}, final);
            if (s.hit == npos) {
                return false;
            }
            if (s.marker >= 2) {
                fail(s.marker == 3 ? s.hit : pos_,
                     s.marker == 3 ? "<｜end▁of▁sentence｜> inside a parameter tag"
                                   : "expected ' name=\"KEY\" string=\"true|false\">' after "
                                     "'<｜DSML｜parameter'",
                     out);
                return false;
            }
            param_name_ = buf_.substr(name_start, s.hit - name_start);
            param_string_ = s.marker == 0;
            if (std::find(param_names_.begin(), param_names_.end(), param_name_) !=
                param_names_.end()) {
                fail(pos_,
                     "duplicate parameter '" + param_name_ + "' in tool call '" + tool_name_ + "'",
                     out);
                return false;
            }
            param_names_.push_back(param_name_);
            out.push_back({ParseEventKind::parameter_begin,
                           param_name_,
                           message_.tool_calls.size(),
                           param_string_,
                           {},
                           {},
                           pos_});
            value_start_ = s.hit + (param_string_ ? kHeaderTrue.size() : kHeaderFalse.size());
            pos_ = value_start_;
            state_ = State::param_value;
            return true;
        }
        case State::param_value: {
            const Scan s = scan(buf, pos_, {kParamEnd, kEos}, final);
            if (s.hit == npos) {
                // The value ends with '<' (or "<\n") before the closing tag: hold two bytes back,
                // and never split a UTF-8 sequence.
                std::size_t end = s.safe >= pos_ + 2 ? s.safe - 2 : pos_;
                while (end > pos_ && (static_cast<unsigned char>(buf[end]) & 0xC0) == 0x80) {
                    --end;
                }
                emit_delta(ParseEventKind::parameter_value_delta, end, out);
                return false;
            }
            if (s.marker == 1) {
                fail(s.hit, "<｜end▁of▁sentence｜> inside parameter '" + param_name_ + "'", out);
                return false;
            }
            const std::string_view value_and_tail = buf.substr(value_start_, s.hit - value_start_);
            std::size_t value_len = 0;
            if (value_and_tail.ends_with("<")) {
                value_len = value_and_tail.size() - 1;
            } else if (value_and_tail.ends_with("<\n")) {
                value_len = value_and_tail.size() - 2;
            } else {
                fail(s.hit, "parameter '" + param_name_ + "' must end with '</｜DSML｜parameter>'",
                     out);
                return false;
            }
            const std::string value(value_and_tail.substr(0, value_len));
            if (!param_string_ && !nlohmann::json::accept(value)) {
                fail(value_start_,
                     "parameter '" + param_name_ + "' of tool call '" + tool_name_ +
                         "' has string=\"false\" but its value is not valid JSON",
                     out);
                return false;
            }
            emit_delta(ParseEventKind::parameter_value_delta, value_start_ + value_len, out);
            if (!arguments_.empty()) {
                arguments_ += ", ";
            }
            arguments_ +=
                json_quoted(param_name_) + ": " + (param_string_ ? json_quoted(value) : value);
            out.push_back({ParseEventKind::parameter_end,
                           param_name_,
                           message_.tool_calls.size(),
                           param_string_,
                           {},
                           {},
                           s.hit});
            pos_ = s.hit + kParamEnd.size();
            state_ = State::param_close;
            return true;
        }
        case State::param_close: {
            const int r = expect(buf.substr(pos_), {kNlParam, kNlInvokeEnd}, final);
            if (r == kWait) {
                return false;
            }
            if (r == kMismatch) {
                fail(pos_,
                     "expected '>\\n' then '<｜DSML｜parameter' or '</｜DSML｜invoke>' after a "
                     "parameter",
                     out);
                return false;
            }
            if (r == 0) {
                pos_ += kNlParam.size();
                state_ = State::param_header;
            } else {
                invoke_end_ = pos_ + 2;
                pos_ += kNlInvokeEnd.size();
                pending_call_ = true;
                state_ = State::block;
            }
            return true;
        }
        case State::after_block: {
            const std::string_view rest = buf.substr(pos_);
            if (final && rest.empty()) {
                return false;
            }
            const int r = expect(rest, {kEos}, final);
            if (r == kWait) {
                return false;
            }
            if (r == kMismatch) {
                fail(pos_, "only <｜end▁of▁sentence｜> may follow '</｜DSML｜tool_calls>'", out);
                return false;
            }
            pos_ += kEos.size();
            message_.complete = true;
            out.push_back({ParseEventKind::end_of_turn, {}, 0, true, {}, {}, pos_ - kEos.size()});
            state_ = State::done;
            return true;
        }
        case State::done:
            if (pos_ < buf.size()) {
                fail(pos_, "text after <｜end▁of▁sentence｜>", out);
            }
            return false;
        case State::failed:
            return false;
    }
    return false;
}

ParsedMessage parse_completion(std::string_view text, ThinkingMode mode) {
    OutputParser parser(mode);
    parser.feed(text);
    parser.finish();
    return parser.message();
}

nlohmann::ordered_json message_to_json(const ParsedMessage& message) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::array();
    for (const auto& c : message.tool_calls) {
        calls.push_back(
            {{"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    return {{"role", "assistant"},
            {"content", message.content},
            {"reasoning_content", message.reasoning_content},
            {"tool_calls", calls}};
}

}  // namespace osprey::model
