#include "agent/cli/interactive/renderer.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent/cli/interactive/diff_view.hpp"
#include "agent/cli/interactive/line_editor.hpp"

namespace osprey::agent::interactive {
namespace {

using nlohmann::json;

constexpr std::size_t kResultLines = 4;
constexpr std::size_t kDiffLines = 24;

std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

// The first `width` code points of `s`.
std::string head_chars(std::string_view s, std::size_t width) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (n == width) {
                return std::string(s.substr(0, i));
            }
            ++n;
        }
    }
    return std::string(s);
}

std::string one_line(std::string_view s) {
    std::string r;
    for (const char c : s) {
        r += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    return r;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string seconds(std::int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ms) / 1000.0);
    return buf;
}

// The argument a person most wants to see for a call, e.g. the command or the path.
std::string call_summary(const json& args) {
    if (!args.is_object()) {
        return "";
    }
    for (const char* key : {"command", "path", "pattern", "query", "symbol", "file"}) {
        if (args.contains(key) && args.at(key).is_string()) {
            return args.at(key).get<std::string>();
        }
    }
    if (args.contains("patch")) {
        std::string paths;
        for (const auto& p : patch_paths(args.at("patch").get<std::string>())) {
            paths += (paths.empty() ? "" : ", ") + p;
        }
        return paths;
    }
    return args.empty() ? "" : args.dump();
}

}  // namespace

std::string group_digits(std::int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return (n < 0 ? "-" : "") + out;
}

Renderer::Renderer(std::ostream& out, std::filesystem::path workspace, bool color)
    : out_(out), workspace_(std::move(workspace)), style_(color) {}

void Renderer::write(std::string_view text) {
    if (text.empty()) {
        return;
    }
    out_ << text;
    out_.flush();
    at_line_start_ = text.back() == '\n';
}

void Renderer::ensure_newline() {
    clear_live();
    if (!at_line_start_) {
        write("\n");
    }
}

std::string Renderer::fit(std::string_view text, int reserve) const {
    const int columns = terminal_columns();
    const auto room = static_cast<std::size_t>(std::max(8, columns - reserve - 1));
    if (display_width(text) <= room) {
        return std::string(text);
    }
    return head_chars(text, room - 1) + "…";
}

void Renderer::set_live(const std::string& text) {
    if (!at_line_start_ && !live_) {
        write("\n");
    }
    out_ << "\r\033[K" << text;
    out_.flush();
    live_ = true;
}

void Renderer::clear_live() {
    if (live_) {
        out_ << "\r\033[K";
        out_.flush();
        live_ = false;
        at_line_start_ = true;
    }
}

void Renderer::interrupted() {
    // The terminal echoed ^C where the cursor was: a live line is erased anyway, any other
    // output needs a newline first.
    if (!live_) {
        at_line_start_ = false;
    }
}

void Renderer::begin_turn() {
    turn_started_ = std::chrono::steady_clock::now();
    prompt_tokens_ = decoded_tokens_ = prefill_ms_ = decode_ms_ = steps_ = 0;
    in_reasoning_ = false;
    reasoning_.clear();
}

void Renderer::end_reasoning() {
    if (!in_reasoning_) {
        return;
    }
    in_reasoning_ = false;
    last_reasoning_ = reasoning_;
    if (show_reasoning_) {
        write(style_.reset());
        ensure_newline();
        write("\n");
        return;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - reasoning_started_)
                        .count();
    std::size_t words = 0;
    bool in_word = false;
    for (const char c : reasoning_) {
        const bool space = c == ' ' || c == '\n' || c == '\t';
        words += (!space && !in_word) ? 1 : 0;
        in_word = !space;
    }
    clear_live();
    write(style_.dim("▸ thought for " + seconds(ms) + " · " + group_digits(words) +
                     (words == 1 ? " word" : " words") + " (/think show to expand)") +
          "\n");
}

void Renderer::on_parse_event(const model::ParseEvent& event) {
    using K = model::ParseEventKind;
    if (event.kind == K::tool_call_begin) {
        end_reasoning();
        ensure_newline();
        set_live(style_.yellow("● " + event.text) + style_.dim(" …"));
    } else if (event.kind == K::tool_call_end) {
        json args = json::object();
        try {
            args = json::parse(event.arguments);
        } catch (const json::parse_error&) {
        }
        clear_live();
        show_call(event.text, args);
    }
}

void Renderer::show_call(const std::string& name, const json& arguments) {
    ensure_newline();
    const std::string summary = one_line(call_summary(arguments));
    write(style_.yellow("● " + name) + " " +
          fit(summary, static_cast<int>(display_width(name)) + 3) + "\n");
}

void Renderer::on_prefill_progress(std::int64_t done, std::int64_t total) {
    if (total < 512 || done >= total) {
        clear_live();
        return;
    }
    const int width = 24;
    const auto filled = static_cast<int>(done * width / std::max<std::int64_t>(1, total));
    set_live(style_.dim("prefill [" + std::string(static_cast<std::size_t>(filled), '#') +
                        std::string(static_cast<std::size_t>(width - filled), '.') + "] " +
                        group_digits(done) + "/" + group_digits(total) + " tokens"));
}

void Renderer::on_event(const json& event) {
    const std::string type = event.at("type").get<std::string>();
    if (type == "reasoning.delta") {
        const std::string text = event.at("text").get<std::string>();
        if (!in_reasoning_) {
            in_reasoning_ = true;
            reasoning_.clear();
            reasoning_started_ = std::chrono::steady_clock::now();
            if (show_reasoning_) {
                ensure_newline();
            }
        }
        reasoning_ += text;
        if (show_reasoning_) {
            clear_live();
            out_ << style_.begin_dim() << text << style_.reset();
            out_.flush();
            at_line_start_ = !text.empty() ? text.back() == '\n' : at_line_start_;
        } else {
            std::string_view shown = reasoning_;
            while (!shown.empty() && (shown.back() == '\n' || shown.back() == ' ')) {
                shown.remove_suffix(1);
            }
            const std::size_t cut = shown.find_last_of('\n');
            std::string tail =
                one_line(cut == std::string_view::npos ? shown : shown.substr(cut + 1));
            const int room = std::max(8, terminal_columns() - 14);
            if (display_width(tail) > static_cast<std::size_t>(room)) {
                // Keep the end of the line: drop whole code points from the front.
                std::size_t drop = display_width(tail) - static_cast<std::size_t>(room);
                std::size_t i = 0;
                while (i < tail.size() && drop > 0) {
                    ++i;
                    while (i < tail.size() &&
                           (static_cast<unsigned char>(tail[i]) & 0xC0) == 0x80) {
                        ++i;
                    }
                    --drop;
                }
                tail = "…" + tail.substr(i);
            }
            set_live(style_.dim("thinking… " + tail));
        }
    } else if (type == "text.delta") {
        end_reasoning();
        clear_live();
        write(event.at("text").get<std::string>());
    } else if (type == "tool.call") {
        // Remember the files this call may change, for the diff after it ran.
        const std::string name = event.at("name").get<std::string>();
        const json& args = event.at("arguments");
        std::vector<std::string> paths;
        if ((name == "write" || name == "edit") && args.contains("path") &&
            args.at("path").is_string()) {
            paths.push_back(args.at("path").get<std::string>());
        } else if (name == "apply_patch" && args.contains("patch") &&
                   args.at("patch").is_string()) {
            paths = patch_paths(args.at("patch").get<std::string>());
        }
        auto& files = before_[event.at("call_id").get<std::string>()];
        for (const auto& p : paths) {
            const std::filesystem::path full =
                std::filesystem::path(p).is_absolute() ? std::filesystem::path(p) : workspace_ / p;
            files.emplace_back(p, read_file(full));
        }
    } else if (type == "tool.result") {
        show_result(event);
    } else if (type == "turn.started") {
        clear_live();
    } else if (type == "usage") {
        ++steps_;
        prompt_tokens_ += event.at("prompt_tokens").get<std::int64_t>();
        decoded_tokens_ += event.at("decoded_tokens").get<std::int64_t>();
        context_tokens_ = event.at("context_tokens").get<std::int64_t>();
        prefill_ms_ += event.at("prefill_ms").get<std::int64_t>();
        decode_ms_ += event.at("decode_ms").get<std::int64_t>();
    } else if (type == "turn.completed") {
        end_reasoning();
        clear_live();
    } else if (type == "error") {
        ensure_newline();
        const std::string message = event.at("message").get<std::string>();
        write((event.at("recoverable").get<bool>() ? style_.yellow("! " + message)
                                                   : style_.red("error: " + message)) +
              "\n");
    } else if (type == "compaction") {
        context_tokens_ = event.at("after_tokens").get<std::int64_t>();
        ensure_newline();
        write(style_.magenta("context compacted: " +
                             group_digits(event.at("before_tokens").get<std::int64_t>()) + " → " +
                             group_digits(event.at("after_tokens").get<std::int64_t>()) +
                             " tokens (the full history is kept in session " +
                             event.at("old_session").get<std::string>() + ")") +
              "\n");
    }
}

void Renderer::show_result(const json& event) {
    ensure_newline();
    const std::string status = event.at("status").get<std::string>();
    const std::string output = event.at("output").get<std::string>();
    const std::string took = seconds(event.at("duration_ms").get<std::int64_t>());
    std::string label;
    if (status == "ok") {
        label = style_.green("ok");
    } else if (status == "denied") {
        label = style_.yellow("denied");
    } else if (status == "interrupted") {
        label = style_.red("interrupted");
    } else {
        label = style_.red("error");
    }
    write("  ⎿ " + label + style_.dim(" (" + took + ")") + "\n");
    const std::string call_id = event.at("call_id").get<std::string>();
    auto it = before_.find(call_id);
    bool diffed = false;
    if (it != before_.end()) {
        if (status == "ok") {
            for (const auto& [path, before] : it->second) {
                const std::filesystem::path full = std::filesystem::path(path).is_absolute()
                                                       ? std::filesystem::path(path)
                                                       : workspace_ / path;
                const std::optional<std::string> after = read_file(full);
                try {
                    const auto lines = diff_lines(before.value_or(""), after.value_or(""));
                    if (!lines.empty()) {
                        write(render_diff(
                            path + (before ? "" : " (new)") + (after ? "" : " (deleted)"), lines,
                            kDiffLines, style_.color()));
                        diffed = true;
                    }
                } catch (const std::exception& e) {
                    write("    " + style_.dim(e.what()) + "\n");
                }
            }
        }
        before_.erase(it);
    }
    if (diffed) {
        return;
    }
    std::istringstream lines(output);
    std::string line;
    std::size_t shown = 0;
    std::size_t total = 0;
    for (char c : output) {
        total += c == '\n' ? 1 : 0;
    }
    if (!output.empty() && output.back() != '\n') {
        ++total;
    }
    while (shown < kResultLines && std::getline(lines, line)) {
        ++shown;
        const std::string text = fit(one_line(line), 4);
        write("    " + (status == "ok" ? style_.dim(text) : text) + "\n");
    }
    if (total > shown) {
        write("    " + style_.dim("… " + std::to_string(total - shown) + " more lines") + "\n");
    }
}

void Renderer::end_turn(const AgentOutcome& outcome) {
    end_reasoning();
    ensure_newline();
    if (outcome.exit_reason == "interrupted") {
        write(style_.yellow("⏹ interrupted — the session is kept; type a message to go on") +
              "\n");
    } else if (outcome.exit_reason == "budget" || outcome.exit_reason == "loop") {
        write(style_.yellow("stopped: " + outcome.exit_reason + " limit") + "\n");
    } else if (outcome.exit_reason == "failed") {
        write(style_.red("the turn failed (see the error above)") + "\n");
    }
    const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - turn_started_)
                          .count();
    std::string line = "usage: " + group_digits(prompt_tokens_) + " prompt + " +
                       group_digits(decoded_tokens_) + " generated tokens · context " +
                       group_digits(context_tokens_) + " · prefill " + seconds(prefill_ms_) +
                       " · decode " + seconds(decode_ms_);
    if (decode_ms_ > 0 && decoded_tokens_ > 0) {
        line += " (" + std::to_string(decoded_tokens_ * 1000 / decode_ms_) + " tok/s)";
    }
    line +=
        " · " + std::to_string(steps_) + (steps_ == 1 ? " step" : " steps") + " · " + seconds(wall);
    write(style_.dim(line) + "\n");
}

}  // namespace osprey::agent::interactive
