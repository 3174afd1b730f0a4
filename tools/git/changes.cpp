#include "tools/git/changes.hpp"

#include <git2.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "tools/git/repository.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;
using Object = Owned<git_object, git_object_free>;
using Commit = Owned<git_commit, git_commit_free>;
using Tree = Owned<git_tree, git_tree_free>;
using Diff = Owned<git_diff, git_diff_free>;
using Patch = Owned<git_patch, git_patch_free>;
using Blob = Owned<git_blob, git_blob_free>;
using TreeEntry = Owned<git_tree_entry, git_tree_entry_free>;

void check(int rc, const std::string& what) {
    if (rc < 0) {
        const git_error* err = git_error_last();
        throw GitError(
            what + ": " +
            (err != nullptr && err->message != nullptr ? err->message : "libgit2 error"));
    }
}

std::string hex(const git_oid* oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, oid);
    return buf;
}

Repository open(const fs::path& root) {
    Repository repo = Repository::discover(root);
    if (repo.is_bare()) {
        throw GitError("the repository at " + repo.git_dir().string() +
                       " is bare: a review needs a working tree");
    }
    return repo;
}

Commit commit_of(const Repository& repo, const std::string& rev) {
    git_object* obj = nullptr;
    if (git_revparse_single(&obj, repo.raw(), rev.c_str()) != 0) {
        throw GitError(
            "unknown revision '" + rev + "'" +
            (rev == "HEAD" && repo.head_unborn() ? " (the repository has no commits)" : ""));
    }
    Object owned(obj);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) {
        throw GitError("'" + rev + "' does not name a commit");
    }
    return Commit(reinterpret_cast<git_commit*>(peeled));
}

Tree tree_of(git_commit* commit) {
    git_tree* tree = nullptr;
    check(git_commit_tree(&tree, commit), "cannot read a commit's tree");
    return Tree(tree);
}

const char* status_word(git_delta_t status) {
    switch (status) {
        case GIT_DELTA_ADDED:
        case GIT_DELTA_UNTRACKED:
            return "added";
        case GIT_DELTA_DELETED:
            return "deleted";
        case GIT_DELTA_RENAMED:
            return "renamed";
        case GIT_DELTA_COPIED:
            return "copied";
        case GIT_DELTA_TYPECHANGE:
            return "typechange";
        default:
            return "modified";
    }
}

git_diff_options options() {
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.context_lines = 3;
    opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
                 GIT_DIFF_SHOW_UNTRACKED_CONTENT;
    return opts;
}

void add_range(std::vector<LineRange>& ranges, std::int64_t line) {
    if (!ranges.empty() && ranges.back().end + 1 >= line) {
        ranges.back().end = std::max(ranges.back().end, line);
        return;
    }
    ranges.push_back({line, line});
}

void fill(Change& change, git_diff* diff) {
    git_diff_find_options find;
    git_diff_find_options_init(&find, GIT_DIFF_FIND_OPTIONS_VERSION);
    find.flags = GIT_DIFF_FIND_RENAMES;
    check(git_diff_find_similar(diff, &find), "cannot detect renames");
    const std::size_t n = git_diff_num_deltas(diff);
    for (std::size_t i = 0; i < n; ++i) {
        git_patch* raw = nullptr;
        check(git_patch_from_diff(&raw, diff, i), "cannot compute the diff");
        Patch patch(raw);
        const git_diff_delta* delta = git_patch_get_delta(patch.get());
        ChangedFile file;
        file.path = delta->new_file.path;
        file.status = status_word(delta->status);
        file.binary = (delta->flags & GIT_DIFF_FLAG_BINARY) != 0;
        if (delta->status == GIT_DELTA_RENAMED) {
            file.old_path = delta->old_file.path;
        }
        const std::size_t hunks = git_patch_num_hunks(patch.get());
        for (std::size_t h = 0; h < hunks; ++h) {
            const git_diff_hunk* hunk = nullptr;
            std::size_t lines = 0;
            check(git_patch_get_hunk(&hunk, &lines, patch.get(), h), "cannot read a hunk");
            bool added = false;
            for (std::size_t l = 0; l < lines; ++l) {
                const git_diff_line* line = nullptr;
                check(git_patch_get_line_in_hunk(&line, patch.get(), h, l), "cannot read a line");
                if (line->origin == GIT_DIFF_LINE_ADDITION && line->new_lineno > 0) {
                    add_range(file.lines, line->new_lineno);
                    added = true;
                }
            }
            if (!added && delta->status != GIT_DELTA_DELETED) {
                // A pure deletion: the line before it (or the first line) stands for it.
                add_range(file.lines, std::max<std::int64_t>(1, hunk->new_start));
            }
        }
        git_buf buf = GIT_BUF_INIT;
        check(git_patch_to_buf(&buf, patch.get()), "cannot print the diff");
        change.patch.append(buf.ptr, buf.size);
        git_buf_dispose(&buf);
        change.files.push_back(std::move(file));
    }
}

Change workdir_change(const Repository& repo, git_tree* base, std::string description) {
    git_diff_options opts = options();
    git_diff* raw = nullptr;
    check(git_diff_tree_to_workdir_with_index(&raw, repo.raw(), base, &opts), "diff failed");
    Diff diff(raw);
    Change change;
    change.description = std::move(description);
    fill(change, diff.get());
    return change;
}

Change tree_change(const Repository& repo, git_tree* a, git_tree* b, std::string description,
                   std::string revision) {
    git_diff_options opts = options();
    git_diff* raw = nullptr;
    check(git_diff_tree_to_tree(&raw, repo.raw(), a, b, &opts), "diff failed");
    Diff diff(raw);
    Change change;
    change.description = std::move(description);
    change.revision = std::move(revision);
    fill(change, diff.get());
    return change;
}

}  // namespace

fs::path repository_root(const fs::path& path) {
    Repository repo = open(path);
    return fs::canonical(repo.workdir());
}

Change uncommitted_change(const fs::path& root) {
    Repository repo = open(root);
    if (repo.head_unborn()) {
        return workdir_change(repo, nullptr, "working tree (no commits yet)");
    }
    Commit head = commit_of(repo, "HEAD");
    Tree tree = tree_of(head.get());
    return workdir_change(repo, tree.get(), "HEAD vs working tree");
}

Change base_change(const fs::path& root, const std::string& ref) {
    Repository repo = open(root);
    Commit base = commit_of(repo, ref);
    Commit head = commit_of(repo, "HEAD");
    git_oid merge_base;
    check(git_merge_base(&merge_base, repo.raw(), git_commit_id(base.get()),
                         git_commit_id(head.get())),
          "'" + ref + "' and HEAD have no common ancestor");
    git_commit* raw = nullptr;
    check(git_commit_lookup(&raw, repo.raw(), &merge_base), "cannot read the merge base");
    Commit mb(raw);
    Tree tree = tree_of(mb.get());
    return workdir_change(
        repo, tree.get(),
        "merge-base(" + ref + ", HEAD) " + hex(&merge_base).substr(0, 10) + " vs working tree");
}

Change commit_change(const fs::path& root, const std::string& rev) {
    Repository repo = open(root);
    Commit commit = commit_of(repo, rev);
    Tree own = tree_of(commit.get());
    Tree parent_tree;
    if (git_commit_parentcount(commit.get()) > 0) {
        git_commit* parent = nullptr;
        check(git_commit_parent(&parent, commit.get(), 0), "cannot read the parent of " + rev);
        Commit p(parent);
        parent_tree = tree_of(p.get());
    }
    const std::string id = hex(git_commit_id(commit.get()));
    return tree_change(repo, parent_tree.get(), own.get(), "commit " + id.substr(0, 10), id);
}

Change range_change(const fs::path& root, const std::string& a, const std::string& b,
                    bool merge_base) {
    Repository repo = open(root);
    Commit ca = commit_of(repo, a);
    Commit cb = commit_of(repo, b);
    if (merge_base) {
        git_oid mb;
        check(git_merge_base(&mb, repo.raw(), git_commit_id(ca.get()), git_commit_id(cb.get())),
              "'" + a + "' and '" + b + "' have no common ancestor");
        git_commit* raw = nullptr;
        check(git_commit_lookup(&raw, repo.raw(), &mb), "cannot read the merge base");
        ca.reset(raw);
    }
    Tree ta = tree_of(ca.get());
    Tree tb = tree_of(cb.get());
    const std::string ida = hex(git_commit_id(ca.get()));
    const std::string idb = hex(git_commit_id(cb.get()));
    return tree_change(repo, ta.get(), tb.get(), ida.substr(0, 10) + ".." + idb.substr(0, 10), idb);
}

std::string resolve_commit(const fs::path& root, const std::string& rev) {
    Repository repo = open(root);
    Commit c = commit_of(repo, rev);
    return hex(git_commit_id(c.get()));
}

std::optional<std::string> file_at(const fs::path& root, const std::string& revision,
                                   const std::string& path) {
    if (path.empty() || path.front() == '/' || path.find("..") != std::string::npos) {
        return std::nullopt;
    }
    if (revision.empty()) {
        std::error_code ec;
        const fs::path file = root / path;
        if (!fs::is_regular_file(file, ec)) {
            return std::nullopt;
        }
        const fs::path real = fs::canonical(file, ec);
        const std::string prefix = fs::canonical(root, ec).string() + "/";
        if (ec || real.string().rfind(prefix, 0) != 0) {
            return std::nullopt;
        }
        std::ifstream in(real, std::ios::binary);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    Repository repo = open(root);
    Commit commit = commit_of(repo, revision);
    Tree tree = tree_of(commit.get());
    git_tree_entry* raw_entry = nullptr;
    if (git_tree_entry_bypath(&raw_entry, tree.get(), path.c_str()) != 0) {
        return std::nullopt;
    }
    TreeEntry entry(raw_entry);
    if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) {
        return std::nullopt;
    }
    git_blob* raw_blob = nullptr;
    check(git_blob_lookup(&raw_blob, repo.raw(), git_tree_entry_id(entry.get())),
          "cannot read " + path);
    Blob blob(raw_blob);
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                       static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

}  // namespace osprey::tools
