#pragma once
// ANSI styles for the terminal, or plain text when colour is off (NO_COLOR, TERM=dumb).

#include <string>
#include <string_view>

namespace osprey::agent::interactive {

class Style {
public:
    explicit Style(bool color) : color_(color) {}

    std::string dim(std::string_view t) const { return wrap("\033[2m", t); }
    std::string bold(std::string_view t) const { return wrap("\033[1m", t); }
    std::string red(std::string_view t) const { return wrap("\033[31m", t); }
    std::string green(std::string_view t) const { return wrap("\033[32m", t); }
    std::string yellow(std::string_view t) const { return wrap("\033[33m", t); }
    std::string cyan(std::string_view t) const { return wrap("\033[36m", t); }
    std::string magenta(std::string_view t) const { return wrap("\033[35m", t); }
    // Raw sequences for streaming: start dim text, reset, erase to the end of the line.
    std::string_view begin_dim() const { return color_ ? "\033[2m" : ""; }
    std::string_view reset() const { return color_ ? "\033[0m" : ""; }
    bool color() const { return color_; }

private:
    std::string wrap(std::string_view code, std::string_view t) const {
        if (!color_) {
            return std::string(t);
        }
        return std::string(code) + std::string(t) + "\033[0m";
    }
    bool color_;
};

}  // namespace osprey::agent::interactive
