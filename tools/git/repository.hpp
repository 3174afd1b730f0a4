#pragma once
// A libgit2 repository handle with RAII for the library and the repository. Every git tool goes
// through this; Osprey never shells out to `git`.

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

struct git_repository;

namespace osprey::tools {

class GitError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Keeps libgit2 initialised while alive (libgit2 counts init/shutdown pairs itself).
class GitLibrary {
public:
    GitLibrary();
    ~GitLibrary();
    GitLibrary(const GitLibrary&);
    GitLibrary& operator=(const GitLibrary&) { return *this; }
};

class Repository {
public:
    // Finds the repository containing `path` (walking up like git does). Throws GitError naming the
    // path when there is none.
    static Repository discover(const std::filesystem::path& path);
    // Creates a repository with a working tree at `path` (like `git init`).
    static Repository init(const std::filesystem::path& path);

    std::filesystem::path workdir() const;  // empty for a bare repository
    std::filesystem::path git_dir() const;
    bool is_bare() const;
    bool head_unborn() const;
    // "main", or a short commit id when HEAD is detached; throws on an unborn HEAD.
    std::string head_name() const;

    git_repository* raw() const { return repo_.get(); }

private:
    struct Free {
        void operator()(git_repository* repo) const;
    };
    Repository(GitLibrary lib, git_repository* repo) : lib_(lib), repo_(repo) {}

    GitLibrary lib_;  // declared first: destroyed after the repository
    std::unique_ptr<git_repository, Free> repo_;
};

// The last libgit2 error as text, prefixed with `what`.
[[noreturn]] void throw_git_error(const std::string& what);

}  // namespace osprey::tools
