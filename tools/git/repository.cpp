#include "tools/git/repository.hpp"

#include <git2.h>

namespace osprey::tools {

GitLibrary::GitLibrary() {
    git_libgit2_init();
}
GitLibrary::GitLibrary(const GitLibrary& /*other*/) {
    git_libgit2_init();
}
GitLibrary::~GitLibrary() {
    git_libgit2_shutdown();
}

void throw_git_error(const std::string& what) {
    const git_error* err = git_error_last();
    throw GitError(
        what + ": " +
        (err != nullptr && err->message != nullptr ? err->message : "unknown libgit2 error"));
}

void Repository::Free::operator()(git_repository* repo) const {
    git_repository_free(repo);
}

Repository Repository::discover(const std::filesystem::path& path) {
    GitLibrary lib;
    git_repository* repo = nullptr;
    if (git_repository_open_ext(&repo, path.c_str(), 0, nullptr) != 0) {
        throw_git_error("no git repository at or above " + path.string());
    }
    return Repository(lib, repo);
}

Repository Repository::init(const std::filesystem::path& path) {
    GitLibrary lib;
    git_repository* repo = nullptr;
    if (git_repository_init(&repo, path.c_str(), 0) != 0) {
        throw_git_error("cannot create a git repository at " + path.string());
    }
    return Repository(lib, repo);
}

std::filesystem::path Repository::workdir() const {
    const char* dir = git_repository_workdir(repo_.get());
    return dir == nullptr ? std::filesystem::path() : std::filesystem::path(dir);
}

std::filesystem::path Repository::git_dir() const {
    return git_repository_path(repo_.get());
}

bool Repository::is_bare() const {
    return git_repository_is_bare(repo_.get()) == 1;
}

bool Repository::head_unborn() const {
    return git_repository_head_unborn(repo_.get()) == 1;
}

std::string Repository::head_name() const {
    git_reference* head = nullptr;
    if (git_repository_head(&head, repo_.get()) != 0) {
        throw_git_error("cannot read HEAD of " + git_dir().string());
    }
    std::unique_ptr<git_reference, decltype(&git_reference_free)> guard(head, git_reference_free);
    if (git_repository_head_detached(repo_.get()) == 1) {
        char id[GIT_OID_HEXSZ + 1] = {};
        git_oid_tostr(id, sizeof id, git_reference_target(head));
        return std::string(id, 12);
    }
    return git_reference_shorthand(head);
}

}  // namespace osprey::tools
