#include "tools/core/glob.hpp"

#include <cstddef>

namespace osprey::tools {
namespace {

// Matches a bracket class at pattern[0] == '['; sets `consumed` to its length (0 when the
// bracket is not a well-formed class and must be taken literally).
bool match_class(std::string_view pattern, char c, std::size_t& consumed) {
    std::size_t i = 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    bool matched = false;
    bool first = true;
    while (i < pattern.size() && (first || pattern[i] != ']')) {
        first = false;
        char lo = pattern[i];
        if (lo == '\\' && i + 1 < pattern.size())
            lo = pattern[++i];
        char hi = lo;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            hi = pattern[i + 2];
            if (hi == '\\' && i + 3 < pattern.size()) {
                hi = pattern[i + 3];
                ++i;
            }
            i += 2;
        }
        if (lo <= c && c <= hi)
            matched = true;
        ++i;
    }
    if (i >= pattern.size()) {
        consumed = 0;
        return false;
    }
    consumed = i + 1;
    return matched != negate;
}

bool match(std::string_view p, std::string_view s, bool at_component_start) {
    while (!p.empty()) {
        if (p[0] == '*') {
            std::size_t stars = 0;
            while (stars < p.size() && p[stars] == '*')
                ++stars;
            const bool whole_component =
                stars >= 2 && at_component_start && (stars == p.size() || p[stars] == '/');
            if (whole_component) {
                if (stars == p.size())
                    return true;  // "a/**": everything below
                const std::string_view rest = p.substr(stars + 1);
                // Zero directories, then each later component start.
                if (match(rest, s, true))
                    return true;
                for (std::size_t i = 0; i < s.size(); ++i) {
                    if (s[i] == '/' && match(rest, s.substr(i + 1), true))
                        return true;
                }
                return false;
            }
            const std::string_view rest = p.substr(stars);
            for (std::size_t i = 0;; ++i) {
                if (match(rest, s.substr(i), false))
                    return true;
                if (i >= s.size() || s[i] == '/')
                    return false;
            }
        }
        if (s.empty())
            return false;
        if (p[0] == '?') {
            if (s[0] == '/')
                return false;
            p.remove_prefix(1);
        } else if (p[0] == '[') {
            std::size_t consumed = 0;
            const bool ok = s[0] != '/' && match_class(p, s[0], consumed);
            if (consumed == 0) {  // literal '['
                if (s[0] != '[')
                    return false;
                p.remove_prefix(1);
            } else {
                if (!ok)
                    return false;
                p.remove_prefix(consumed);
            }
        } else {
            char want = p[0];
            if (want == '\\' && p.size() > 1) {
                want = p[1];
                p.remove_prefix(1);
            }
            if (s[0] != want)
                return false;
            p.remove_prefix(1);
        }
        at_component_start = s[0] == '/';
        s.remove_prefix(1);
    }
    return s.empty();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
    return match(pattern, path, true);
}

}  // namespace osprey::tools
