#include "sandbox/jobs.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <thread>

namespace osprey::sandbox {

struct Jobs::Job {
    int id = 0;
    std::string label;
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<Process> process;
    std::optional<RunResult> result;
    bool running = true;
    bool stop_requested = false;
    int wake_fd = -1;
    std::chrono::steady_clock::time_point started;
    std::thread thread;

    ~Job() {
        if (thread.joinable()) {
            thread.join();
        }
        if (wake_fd >= 0) {
            close(wake_fd);
        }
    }

    void pump_until_done() {
        for (;;) {
            pollfd fds[4];
            nfds_t n = 0;
            {
                std::lock_guard lock(mutex);
                if (stop_requested) {
                    process->stop(EndReason::stopped);
                }
                const bool alive = process->pump();
                changed.notify_all();
                if (!alive) {
                    result = process->finish();
                    running = false;
                    changed.notify_all();
                    return;
                }
                for (const int fd :
                     {process->stdout_fd(), process->stderr_fd(), process->pidfd()}) {
                    if (fd >= 0) {
                        fds[n++] = {fd, POLLIN, 0};
                    }
                }
            }
            fds[n++] = {wake_fd, POLLIN, 0};
            ::poll(fds, n, 100);  // also the cadence for the deadline check
            std::uint64_t ignored = 0;
            if (fds[n - 1].revents & POLLIN) {
                const ssize_t r = read(wake_fd, &ignored, sizeof ignored);
                (void)r;
            }
        }
    }

    JobStatus status_locked(bool take) {
        JobStatus s;
        s.id = id;
        s.label = label;
        s.running = running;
        s.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            (result ? started + result->wall : std::chrono::steady_clock::now()) - started);
        if (take) {
            s.new_stdout = process->take_new_stdout();
            s.new_stderr = process->take_new_stderr();
        }
        s.result = result;
        return s;
    }
};

Jobs::Jobs(std::size_t max_running) : max_running_(max_running) {}

Jobs::~Jobs() {
    std::vector<std::shared_ptr<Job>> all;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, job] : jobs_) {
            all.push_back(job);
        }
    }
    for (auto& job : all) {
        stop(job->id);
    }
}

int Jobs::start(const Command& command, const Policy& policy, std::string label) {
    std::lock_guard lock(mutex_);
    std::size_t running = 0;
    for (auto& [id, job] : jobs_) {
        std::lock_guard job_lock(job->mutex);
        running += job->running ? 1 : 0;
    }
    if (running >= max_running_) {
        throw SandboxError("too many background jobs (" + std::to_string(running) +
                           " running; stop one with job_stop first)");
    }
    auto job = std::make_shared<Job>();
    job->id = next_id_;
    job->label = label.empty() && !command.argv.empty() ? command.argv.back() : std::move(label);
    job->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (job->wake_fd < 0) {
        throw SandboxError("cannot create an eventfd for a background job");
    }
    // The job's own thread starts the sandbox: the init's parent-death signal is tied to the thread
    // that created it, and this one lives exactly as long as the job.
    std::promise<void> started;
    auto ready = started.get_future();
    Job* raw = job.get();
    job->thread = std::thread([raw, &command, &policy, &started] {
        try {
            raw->process.emplace(Process::start(command, policy));
            raw->started = raw->process->started();
            started.set_value();
        } catch (...) {
            started.set_exception(std::current_exception());
            return;
        }
        raw->pump_until_done();
    });
    try {
        ready.get();
    } catch (...) {
        job->thread.join();
        throw;
    }
    jobs_[next_id_] = job;
    return next_id_++;
}

std::shared_ptr<Jobs::Job> Jobs::find(int id) {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) {
        throw SandboxError("no background job " + std::to_string(id));
    }
    return it->second;
}

JobStatus Jobs::poll(int id, std::chrono::milliseconds wait) {
    auto job = find(id);
    std::unique_lock lock(job->mutex);
    if (wait.count() > 0) {
        job->changed.wait_for(lock, wait,
                              [&] { return !job->running || job->process->has_new_output(); });
    }
    return job->status_locked(true);
}

JobStatus Jobs::stop(int id) {
    auto job = find(id);
    {
        std::unique_lock lock(job->mutex);
        job->stop_requested = true;
        const std::uint64_t one = 1;
        const ssize_t r = write(job->wake_fd, &one, sizeof one);
        (void)r;
        job->changed.wait(lock, [&] { return !job->running; });
    }
    std::unique_lock lock(job->mutex);
    return job->status_locked(true);
}

std::vector<JobStatus> Jobs::list() {
    std::vector<std::shared_ptr<Job>> all;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, job] : jobs_) {
            all.push_back(job);
        }
    }
    std::vector<JobStatus> out;
    for (auto& job : all) {
        std::lock_guard lock(job->mutex);
        out.push_back(job->status_locked(false));
    }
    return out;
}

void Jobs::remove(int id) {
    auto job = find(id);
    {
        std::lock_guard lock(job->mutex);
        if (job->running) {
            throw SandboxError("background job " + std::to_string(id) +
                               " still runs: stop it first");
        }
    }
    std::lock_guard lock(mutex_);
    jobs_.erase(id);
}

}  // namespace osprey::sandbox
