#pragma once
// A capped capture of one output stream: the first and last halves of the cap are kept and a
// marker in between says how many bytes were cut.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace osprey::sandbox {

class OutputCapture {
public:
    explicit OutputCapture(std::size_t cap) : cap_(cap) {}

    void add(std::string_view bytes);
    std::uint64_t total() const { return total_; }
    std::uint64_t cut() const { return total_ > kept() ? total_ - kept() : 0; }
    // Head, "\n[... N bytes cut by the output cap ...]\n", tail (or just the bytes when not cut).
    std::string text() const;
    // What arrived since the last call (its own cap: older unread bytes are dropped with a marker).
    std::string take_new();

private:
    std::uint64_t kept() const { return head_.size() + tail_.size(); }
    std::size_t cap_;
    std::uint64_t total_ = 0;
    std::string head_;
    std::string tail_;  // the last cap/2 bytes after the head filled up
    std::string fresh_;
    std::uint64_t fresh_dropped_ = 0;
};

std::string cut_marker(std::uint64_t bytes);

}  // namespace osprey::sandbox
