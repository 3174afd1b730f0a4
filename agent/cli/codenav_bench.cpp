#include "agent/cli/codenav_bench.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "tools/codenav/repo_map.hpp"
#include "tools/codenav/symbol_index.hpp"
#include "tools/search/grep.hpp"

extern char** environ;

namespace osprey::agent::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU seconds (user + system) this process has used so far, all threads.
double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

std::string fmt(double value, int digits = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, value);
    return buf;
}

// Runs `argv` with stdout (and stderr) sent to a file; returns the wall time in ms, or -1 when the
// program cannot be started. The output file is kept for counting.
double time_program(const std::vector<std::string>& argv, const fs::path& out_file, int& status) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const auto t0 = Clock::now();
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return -1;
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    const double ms = ms_since(t0);
    status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return ms;
}

std::size_t count_lines(const fs::path& file) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (f == nullptr)
        return 0;
    std::size_t lines = 0;
    char buf[65536];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        lines += static_cast<std::size_t>(std::count(buf, buf + n, '\n'));
    }
    std::fclose(f);
    return lines;
}

int run_codenav(const Args& args, Io& io) {
    const std::string repo_arg = args.value("--repo").value_or("");
    if (repo_arg.empty())
        throw UsageError("--repo DIR is required");
    if (!fs::is_directory(repo_arg))
        throw UsageError("--repo: " + repo_arg + " is not a folder");
    std::size_t queries = 200;
    unsigned threads = 0;
    try {
        if (auto q = args.value("--queries"))
            queries = std::stoul(*q);
        if (auto t = args.value("--threads"))
            threads = static_cast<unsigned>(std::stoul(*t));
    } catch (const std::exception&) {
        throw UsageError("--queries and --threads take numbers");
    }
    const bool json_out = args.has("--json");
    const bool skip_external = args.has("--no-external");
    const tools::Workspace ws(repo_arg);
    const fs::path scratch =
        fs::temp_directory_path() / ("osprey-bench-" + std::to_string(getpid()));
    fs::create_directories(scratch);
    struct Cleanup {
        fs::path dir;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } cleanup{scratch};
    const fs::path db_path = args.value("--index").value_or((scratch / "index.sqlite").string());
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"})
        fs::remove(db_path.string() + suffix, ec);

    nlohmann::json report;
    report["repo"] = ws.root().string();
    report["threads"] = threads != 0 ? threads : std::thread::hardware_concurrency();
    auto say = [&](const std::string& line) {
        if (!json_out)
            io.out << line << "\n" << std::flush;
    };
    say("corpus: " + ws.root().string() + " (threads: " + report["threads"].dump() + ")");

    tools::SymbolIndex index(ws, db_path);
    const double cpu0 = cpu_seconds();
    const auto cold = index.refresh(threads);
    const double cold_cpu = cpu_seconds() - cpu0;
    const double cold_rate = static_cast<double>(cold.files) / std::max(cold.seconds, 1e-9);
    // On a shared machine the wall time depends on the neighbours; files per CPU-second times the
    // thread count is what dedicated cores would give (parsing is embarrassingly parallel).
    const double used_threads = report["threads"].get<double>();
    const double cpu_rate =
        static_cast<double>(cold.files) / std::max(cold_cpu, 1e-9) * used_threads;
    report["cold_index"] = {
        {"files", cold.files},           {"parsed", cold.parsed},
        {"failed", cold.failed},         {"skipped_large", cold.skipped_large},
        {"seconds", cold.seconds},       {"cpu_seconds", cold_cpu},
        {"files_per_second", cold_rate}, {"files_per_second_dedicated", cpu_rate}};
    say("cold index: " + std::to_string(cold.files) + " files in " + fmt(cold.seconds, 2) +
        " s = " + fmt(cold_rate, 0) + " files/s (parsed " + std::to_string(cold.parsed) +
        ", failed " + std::to_string(cold.failed) + ", skipped >2 MiB " +
        std::to_string(cold.skipped_large) + "); CPU " + fmt(cold_cpu, 1) +
        " s = " + fmt(cpu_rate, 0) + " files/s on " + fmt(used_threads, 0) + " dedicated cores");
    const auto warm = index.refresh(threads);
    report["warm_reindex"] = {
        {"files", warm.files}, {"parsed", warm.parsed}, {"seconds", warm.seconds}};
    say("warm re-index: " + fmt(warm.seconds * 1000, 0) + " ms (parsed " +
        std::to_string(warm.parsed) + " of " + std::to_string(warm.files) + ")");

    // Query names: an even sample of the distinct defined names (deterministic).
    std::vector<std::string> names;
    {
        auto q = index.database().prepare(
            "SELECT DISTINCT name FROM codenav_symbols WHERE length(name) > 3 ORDER BY name");
        std::vector<std::string> all;
        while (q.step())
            all.push_back(q.column_text(0));
        const std::size_t step =
            std::max<std::size_t>(1, all.size() / std::max<std::size_t>(1, queries));
        for (std::size_t i = 0; i < all.size() && names.size() < queries; i += step) {
            names.push_back(all[i]);
        }
    }
    std::vector<double> def_ms, ref_ms;
    std::size_t def_hits = 0, ref_hits = 0;
    for (const auto& name : names) {
        auto t0 = Clock::now();
        def_hits += index.definitions(name, "", "").size();
        def_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        ref_hits += index.references(name, 201).size();
        ref_ms.push_back(ms_since(t0));
    }
    report["definition_ms"] = {{"queries", names.size()},
                               {"p50", percentile(def_ms, 0.5)},
                               {"p95", percentile(def_ms, 0.95)},
                               {"results", def_hits}};
    report["references_ms"] = {{"queries", names.size()},
                               {"p50", percentile(ref_ms, 0.5)},
                               {"p95", percentile(ref_ms, 0.95)},
                               {"results", ref_hits}};
    say("definition: p50 " + fmt(percentile(def_ms, 0.5), 2) + " ms, p95 " +
        fmt(percentile(def_ms, 0.95), 2) + " ms over " + std::to_string(names.size()) +
        " names (index up to date)");
    say("references: p50 " + fmt(percentile(ref_ms, 0.5), 2) + " ms, p95 " +
        fmt(percentile(ref_ms, 0.95), 2) + " ms (first 200 each)");

    std::vector<double> map_ms;
    std::vector<std::string> focus_files;
    {
        auto q = index.database().prepare("SELECT path FROM codenav_files ORDER BY path");
        std::vector<std::string> all;
        while (q.step())
            all.push_back(q.column_text(0));
        for (std::size_t i = 0; i < 5 && !all.empty(); ++i)
            focus_files.push_back(all[(i * 7919) % all.size()]);
    }
    for (std::size_t i = 0; i < focus_files.size(); ++i) {
        tools::RepoMapOptions options;
        options.budget_tokens = 1024;
        options.focus = {focus_files[i]};
        const auto t0 = Clock::now();
        tools::build_repo_map(index, options);
        map_ms.push_back(ms_since(t0));
    }
    report["repo_map_ms"] = {{"runs", map_ms.size()}, {"p50", percentile(map_ms, 0.5)}};
    say("repo_map (1024 tokens, focus on one file): p50 " + fmt(percentile(map_ms, 0.5), 0) +
        " ms over " + std::to_string(map_ms.size()) + " runs");

    // grep against ripgrep: the same patterns, output counted in lines.
    const std::vector<std::pair<std::string, bool>> patterns = {
        {names.empty() ? "main" : names[names.size() / 2], true},
        {"\\bstatic\\s+inline\\s+\\w+", false},
        {"TODO|FIXME", false}};
    nlohmann::json grep_rows = nlohmann::json::array();
    for (const auto& [pattern, literal] : patterns) {
        tools::GrepOptions options;
        options.pattern = pattern;
        options.fixed_strings = literal;
        options.max_matches = static_cast<std::size_t>(1) << 40;
        options.threads = threads;
        tools::grep(ws, ws.root(), options);  // warm the page cache
        std::vector<double> ours;
        std::size_t our_lines = 0;
        for (int run = 0; run < 3; ++run) {
            const auto t0 = Clock::now();
            our_lines = tools::grep(ws, ws.root(), options).total_matches;
            ours.push_back(ms_since(t0));
        }
        nlohmann::json row = {{"pattern", pattern},
                              {"osprey_ms", percentile(ours, 0.5)},
                              {"osprey_lines", our_lines}};
        std::string line = "grep /" + pattern + "/: osprey " + fmt(percentile(ours, 0.5), 0) +
                           " ms (" + std::to_string(our_lines) + " lines)";
        if (!skip_external) {
            std::vector<std::string> argv = {"rg", "-n", "--no-heading", "--hidden"};
            if (literal)
                argv.push_back("-F");
            if (threads != 0) {
                argv.push_back("-j");
                argv.push_back(std::to_string(threads));
            }
            argv.push_back("-e");
            argv.push_back(pattern);
            argv.push_back(ws.root().string());
            int status = 0;
            std::vector<double> theirs;
            for (int run = 0; run < 3; ++run) {
                const double ms = time_program(argv, scratch / "rg.out", status);
                if (ms < 0)
                    break;
                theirs.push_back(ms);
            }
            if (theirs.empty()) {
                line += "; rg: not installed (apt-get install ripgrep)";
            } else {
                const std::size_t rg_lines = count_lines(scratch / "rg.out");
                const double ratio =
                    percentile(ours, 0.5) / std::max(percentile(theirs, 0.5), 1e-9);
                row["rg_ms"] = percentile(theirs, 0.5);
                row["rg_lines"] = rg_lines;
                row["ratio"] = ratio;
                line += "; rg " + fmt(percentile(theirs, 0.5), 0) + " ms (" +
                        std::to_string(rg_lines) + " lines); osprey/rg = " + fmt(ratio, 2);
            }
        }
        grep_rows.push_back(row);
        say(line);
    }
    report["grep"] = grep_rows;

    if (!skip_external) {
        int status = 0;
        const fs::path tags = scratch / "tags";
        const double ms = time_program({"ctags", "-R", "-f", tags.string(), ws.root().string()},
                                       scratch / "ctags.out", status);
        if (ms < 0) {
            say("ctags: not installed (apt-get install universal-ctags)");
        } else {
            const std::size_t entries = count_lines(tags);
            report["ctags"] = {{"seconds", ms / 1000}, {"tags", entries}, {"exit", status}};
            say("ctags -R (universal-ctags, 1 thread): " + fmt(ms / 1000, 2) + " s, " +
                std::to_string(entries) + " tag lines; osprey cold index " + fmt(cold.seconds, 2) +
                " s with references");
        }
    }
    if (json_out)
        io.out << report.dump(2) << "\n";
    return kExitOk;
}

}  // namespace

Command codenav_bench_command() {
    Command codenav;
    codenav.name = "codenav";
    codenav.summary = "index a repository; time definition, references, repo_map; grep vs rg";
    codenav.description =
        "Builds a fresh symbol index of --repo (cold), re-indexes it unchanged (warm), times\n"
        "definition and references over a sample of defined names and repo_map with a focus, and\n"
        "compares grep with ripgrep (rg) and the index with universal-ctags (ctags -R) when they\n"
        "are installed. Prints figures; it never fails on slowness.";
    codenav.options = {
        {"--repo", "DIR", "the repository or folder to index (required)"},
        {"--queries", "N", "names to query (default 200)"},
        {"--threads", "N", "parser and grep threads (default: all cores); also passed to rg -j"},
        {"--index", "FILE", "where to build the index (default: a temporary file)"},
        {"--no-external", "", "skip rg and ctags"},
        {"--json", "", "print the figures as JSON"},
    };
    codenav.run = run_codenav;
    return codenav;
}

}  // namespace osprey::agent::cli
