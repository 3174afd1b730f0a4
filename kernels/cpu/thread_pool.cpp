#include "kernels/cpu/thread_pool.hpp"

#include <algorithm>
#include <exception>

namespace osprey::kernels {
namespace {

// The range of part `index` of `parts` over n items in multiples of grain.
std::pair<std::int64_t, std::int64_t> part_range(std::int64_t n, std::int64_t grain, unsigned parts,
                                                 unsigned index) {
    const std::int64_t blocks = (n + grain - 1) / grain;
    const std::int64_t per = blocks / parts;
    const std::int64_t extra = blocks % parts;
    const std::int64_t first = index * per + std::min<std::int64_t>(index, extra);
    const std::int64_t count = per + (static_cast<std::int64_t>(index) < extra ? 1 : 0);
    return {std::min(n, first * grain), std::min(n, (first + count) * grain)};
}

}  // namespace

ThreadPool::ThreadPool(unsigned threads) {
    if (threads == 0) {
        threads = std::max(1U, std::thread::hardware_concurrency());
    }
    for (unsigned i = 1; i < threads; ++i) {
        workers_.emplace_back([this, i] { worker_loop(i); });
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) {
        t.join();
    }
}

void ThreadPool::worker_loop(unsigned index) {
    std::uint64_t seen = 0;
    for (;;) {
        const std::function<void(std::int64_t, std::int64_t)>* job = nullptr;
        std::int64_t n = 0;
        std::int64_t grain = 1;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) {
                return;
            }
            seen = generation_;
            job = job_;
            n = job_n_;
            grain = job_grain_;
        }
        const auto [b, e] = part_range(n, grain, size(), index);
        std::exception_ptr err;
        if (b < e) {
            try {
                (*job)(b, e);
            } catch (...) {
                err = std::current_exception();
            }
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (err && !error_) {
            error_ = err;
        }
        if (--pending_ == 0) {
            done_.notify_one();
        }
    }
}

void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
    if (n <= 0) {
        return;
    }
    grain = std::max<std::int64_t>(1, grain);
    if (workers_.empty() || n <= grain) {
        fn(0, n);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job_ = &fn;
        job_n_ = n;
        job_grain_ = grain;
        pending_ = static_cast<unsigned>(workers_.size());
        error_ = nullptr;
        ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr mine;
    const auto [b, e] = part_range(n, grain, size(), 0);
    if (b < e) {
        try {
            fn(b, e);
        } catch (...) {
            mine = std::current_exception();
        }
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (mine) {
        std::rethrow_exception(mine);
    }
    if (error_) {
        std::rethrow_exception(error_);
    }
}

}  // namespace osprey::kernels
