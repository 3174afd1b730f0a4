#include "sandbox/capture.hpp"

#include <algorithm>

namespace osprey::sandbox {

std::string cut_marker(std::uint64_t bytes) {
    return "\n[... " + std::to_string(bytes) + " bytes cut by the output cap ...]\n";
}

void OutputCapture::add(std::string_view bytes) {
    total_ += bytes.size();
    // `fresh_` (unpolled output) is bounded by the cap too: keep its newest bytes.
    fresh_.append(bytes);
    if (fresh_.size() > cap_) {
        fresh_dropped_ += fresh_.size() - cap_;
        fresh_.erase(0, fresh_.size() - cap_);
    }
    const std::size_t head_cap = cap_ - cap_ / 2;
    const std::size_t tail_cap = cap_ / 2;
    if (head_.size() < head_cap) {
        const std::size_t n = std::min(head_cap - head_.size(), bytes.size());
        head_.append(bytes.substr(0, n));
        bytes.remove_prefix(n);
    }
    if (!bytes.empty() && tail_cap > 0) {
        if (bytes.size() >= tail_cap) {
            tail_.assign(bytes.substr(bytes.size() - tail_cap));
        } else {
            tail_.append(bytes);
            if (tail_.size() > tail_cap) {
                tail_.erase(0, tail_.size() - tail_cap);
            }
        }
    }
}

std::string OutputCapture::text() const {
    if (cut() == 0) {
        return head_ + tail_;
    }
    return head_ + cut_marker(cut()) + tail_;
}

std::string OutputCapture::take_new() {
    std::string out;
    if (fresh_dropped_ > 0) {
        out =
            "[... " + std::to_string(fresh_dropped_) + " earlier bytes dropped: not polled ...]\n";
    }
    out += fresh_;
    fresh_.clear();
    fresh_dropped_ = 0;
    return out;
}

}  // namespace osprey::sandbox
