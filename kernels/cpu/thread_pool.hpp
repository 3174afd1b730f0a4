#pragma once
// A fixed pool of worker threads for data-parallel kernel loops. parallel_for splits [0, n) into
// contiguous ranges, one per thread (the caller's thread takes part), and returns when all are
// done.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace osprey::kernels {

class ThreadPool {
public:
    // threads == 0: one per logical core.
    explicit ThreadPool(unsigned threads = 0);
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    ~ThreadPool();

    unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

    // Calls fn(begin, end) on disjoint ranges covering [0, n); ranges are multiples of `grain`
    // (except the last). Exceptions thrown by fn are rethrown here (the first one).
    void parallel_for(std::int64_t n, std::int64_t grain,
                      const std::function<void(std::int64_t, std::int64_t)>& fn);

private:
    void worker_loop(unsigned index);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    const std::function<void(std::int64_t, std::int64_t)>* job_ = nullptr;
    std::int64_t job_n_ = 0;
    std::int64_t job_grain_ = 1;
    std::uint64_t generation_ = 0;
    unsigned pending_ = 0;
    bool stop_ = false;
    std::exception_ptr error_;
};

}  // namespace osprey::kernels
