#pragma once
// Background commands for `shell {background: true}`, `job_status` and `job_stop`: each job is a
// sandboxed Process pumped by its own thread, so its pipes never fill while nobody polls. Polls
// return the output produced since the previous poll; the job's whole (capped) output and how it
// ended are in the final RunResult. Thread-safe. Each job's sandbox is started from its own thread
// (the init dies with the thread that created it, so jobs never depend on the caller's thread).

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/run.hpp"

namespace osprey::sandbox {

struct JobStatus {
    int id = 0;
    std::string label;  // what was started (for listings)
    bool running = false;
    std::string new_stdout;  // since the previous poll (capped at limits.output_bytes)
    std::string new_stderr;
    std::chrono::milliseconds elapsed{0};
    std::optional<RunResult> result;  // once it has ended
};

class Jobs {
public:
    explicit Jobs(std::size_t max_running = 8);
    Jobs(const Jobs&) = delete;
    Jobs& operator=(const Jobs&) = delete;
    ~Jobs();  // stops every job that still runs

    // Starts in the background; the policy's timeout still applies (0: none). Throws
    // SandboxError when it cannot start or too many jobs run.
    int start(const Command& command, const Policy& policy, std::string label = {});
    // New output and state; waits up to `wait` for new output or the end first. Throws
    // SandboxError for an unknown id.
    JobStatus poll(int id, std::chrono::milliseconds wait = std::chrono::milliseconds(0));
    // Kills the job's whole tree and returns its final status.
    JobStatus stop(int id);
    // Every job, without consuming output.
    std::vector<JobStatus> list();
    // Forgets an ended job (its id is not reused).
    void remove(int id);

private:
    struct Job;
    std::shared_ptr<Job> find(int id);
    std::size_t max_running_;
    std::mutex mutex_;
    std::map<int, std::shared_ptr<Job>> jobs_;
    int next_id_ = 1;
};

}  // namespace osprey::sandbox
