#pragma once
// What a change introduces, for reviewers: the patch text plus, per file, the new-side line ranges
// it touches; and the content of a file in the reviewed revision. libgit2 only (no `git`
// process). Paths are relative to the repository's working tree, '/' separated.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace osprey::tools {

struct LineRange {
    std::int64_t start = 0;  // 1-based, inclusive
    std::int64_t end = 0;
};

struct ChangedFile {
    std::string path;
    std::string old_path;  // renames
    std::string status;    // added | deleted | modified | renamed | ...
    bool binary = false;
    std::vector<LineRange> lines;  // new-side lines added or replaced (a deletion: the line before)
};

struct Change {
    std::string description;  // "HEAD vs working tree", "a1b2c3..d4e5f6"
    std::string revision;     // full commit id holding the reviewed files; empty = working tree
    std::string patch;        // unified diff, 3 lines of context
    std::vector<ChangedFile> files;
};

// The repository around `path`: its working tree root. Throws GitError when there is none or it
// is bare.
std::filesystem::path repository_root(const std::filesystem::path& path);

// Every function below throws GitError with a message naming the revision at fault.
// HEAD (or nothing, before the first commit) vs the working tree: staged, unstaged, untracked.
Change uncommitted_change(const std::filesystem::path& root);
// merge-base(ref, HEAD) vs the working tree.
Change base_change(const std::filesystem::path& root, const std::string& ref);
// The commit against its first parent (the empty tree for a root commit).
Change commit_change(const std::filesystem::path& root, const std::string& rev);
// `a` vs `b`; with `merge_base`, merge-base(a, b) vs `b` (git's A...B).
Change range_change(const std::filesystem::path& root, const std::string& a, const std::string& b,
                    bool merge_base);
// The full commit id `rev` names (HEAD's when `rev` is "HEAD").
std::string resolve_commit(const std::filesystem::path& root, const std::string& rev);

// The bytes of `path` in `revision` (a commit id; empty = the working tree), nullopt when it has
// no such file.
std::optional<std::string> file_at(const std::filesystem::path& root, const std::string& revision,
                                   const std::string& path);

}  // namespace osprey::tools
