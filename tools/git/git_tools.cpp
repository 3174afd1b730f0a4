#include "tools/git/git_tools.hpp"

#include <git2.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <memory>

#include "tools/core/json_schema.hpp"
#include "tools/git/repository.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;
using nlohmann::json;

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
using StatusList = Owned<git_status_list, git_status_list_free>;
using Revwalk = Owned<git_revwalk, git_revwalk_free>;
using Blame = Owned<git_blame, git_blame_free>;
using Index = Owned<git_index, git_index_free>;
using Signature = Owned<git_signature, git_signature_free>;
using Reference = Owned<git_reference, git_reference_free>;
using BranchIter = Owned<git_branch_iterator, git_branch_iterator_free>;
using Blob = Owned<git_blob, git_blob_free>;
using TreeEntry = Owned<git_tree_entry, git_tree_entry_free>;

void check(int rc, const std::string& what) {
    if (rc < 0) {
        const git_error* err = git_error_last();
        throw ToolError(
            what + ": " +
            (err != nullptr && err->message != nullptr ? err->message : "libgit2 error"));
    }
}

std::string short_id(const git_oid* oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, oid);
    return std::string(buf, 10);
}

std::string full_id(const git_oid* oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, oid);
    return buf;
}

std::string iso_time(git_time_t t, int offset_minutes) {
    const std::time_t shifted = static_cast<std::time_t>(t) + offset_minutes * 60;
    std::tm tm{};
    gmtime_r(&shifted, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    char zone[32];
    const int off = std::abs(offset_minutes);
    std::snprintf(zone, sizeof zone, "%c%02d%02d", offset_minutes < 0 ? '-' : '+', off / 60,
                  off % 60);
    return std::string(buf) + " " + zone;
}

// The repository holding the workspace, and paths translated between the two.
struct Repo {
    Repository repo;
    fs::path workdir;

    static Repo open(const Workspace& ws) {
        try {
            Repository repo = Repository::discover(ws.root());
            if (repo.is_bare())
                throw ToolError("the repository at " + repo.git_dir().string() +
                                " is bare: git tools need a working tree");
            fs::path workdir = fs::canonical(repo.workdir());
            return Repo{std::move(repo), workdir};
        } catch (const GitError& e) {
            throw ToolError(std::string("not a git repository: ") + e.what());
        }
    }
    git_repository* raw() const { return repo.raw(); }

    // A workspace path as git names it (relative to the working tree, '/' separated).
    std::string git_path(const Workspace& ws, const std::string& user_path) const {
        const fs::path abs = ws.resolve(user_path);
        const fs::path rel = abs.lexically_relative(workdir);
        if (rel.empty() || *rel.begin() == "..") {
            throw ToolError(user_path + " is outside the repository's working tree " +
                            workdir.string());
        }
        return rel == "." ? std::string() : rel.generic_string();
    }

    Object revparse(const std::string& rev) const {
        git_object* obj = nullptr;
        if (git_revparse_single(&obj, raw(), rev.c_str()) != 0) {
            throw ToolError("unknown revision '" + rev + "'" +
                            (rev == "HEAD" && repo.head_unborn()
                                 ? " (the repository has no commits yet)"
                                 : ""));
        }
        return Object(obj);
    }

    Commit commit(const std::string& rev) const {
        Object obj = revparse(rev);
        git_object* peeled = nullptr;
        if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_COMMIT) != 0) {
            throw ToolError("'" + rev + "' does not name a commit");
        }
        return Commit(reinterpret_cast<git_commit*>(peeled));
    }

    Tree tree(const std::string& rev) const {
        Object obj = revparse(rev);
        git_object* peeled = nullptr;
        if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_TREE) != 0) {
            throw ToolError("'" + rev + "' does not name a commit or tree");
        }
        return Tree(reinterpret_cast<git_tree*>(peeled));
    }

    // HEAD's tree, or null for a repository without commits.
    Tree head_tree() const {
        if (repo.head_unborn())
            return Tree(nullptr);
        return tree("HEAD");
    }
};

char status_letter(git_delta_t status) {
    switch (status) {
        case GIT_DELTA_ADDED:
            return 'A';
        case GIT_DELTA_DELETED:
            return 'D';
        case GIT_DELTA_MODIFIED:
            return 'M';
        case GIT_DELTA_RENAMED:
            return 'R';
        case GIT_DELTA_COPIED:
            return 'C';
        case GIT_DELTA_TYPECHANGE:
            return 'T';
        case GIT_DELTA_UNTRACKED:
            return '?';
        case GIT_DELTA_CONFLICTED:
            return 'U';
        default:
            return ' ';
    }
}

const char* status_word(git_delta_t status) {
    switch (status) {
        case GIT_DELTA_ADDED:
            return "added";
        case GIT_DELTA_DELETED:
            return "deleted";
        case GIT_DELTA_MODIFIED:
            return "modified";
        case GIT_DELTA_RENAMED:
            return "renamed";
        case GIT_DELTA_COPIED:
            return "copied";
        case GIT_DELTA_TYPECHANGE:
            return "typechange";
        case GIT_DELTA_UNTRACKED:
            return "untracked";
        case GIT_DELTA_CONFLICTED:
            return "conflicted";
        default:
            return "unmodified";
    }
}

// The patch text and per-file stats of a diff.
void render_diff(git_diff* diff, json& files, std::string& text) {
    const std::size_t n = git_diff_num_deltas(diff);
    for (std::size_t i = 0; i < n; ++i) {
        git_patch* raw = nullptr;
        check(git_patch_from_diff(&raw, diff, i), "cannot compute the diff");
        Patch patch(raw);
        const git_diff_delta* delta = git_patch_get_delta(patch.get());
        std::size_t context = 0, additions = 0, deletions = 0;
        git_patch_line_stats(&context, &additions, &deletions, patch.get());
        json entry = {{"path", delta->new_file.path},
                      {"status", status_word(delta->status)},
                      {"additions", additions},
                      {"deletions", deletions},
                      {"binary", (delta->flags & GIT_DIFF_FLAG_BINARY) != 0}};
        if (delta->status == GIT_DELTA_RENAMED)
            entry["old_path"] = delta->old_file.path;
        files.push_back(entry);
        git_buf buf = GIT_BUF_INIT;
        check(git_patch_to_buf(&buf, patch.get()), "cannot print the diff");
        text.append(buf.ptr, buf.size);
        git_buf_dispose(&buf);
    }
}

git_diff_options diff_options(const json& args, char** pathspec_storage, const std::string& path) {
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.context_lines = static_cast<std::uint32_t>(arg_int(args, "context", 3));
    if (!path.empty()) {
        pathspec_storage[0] = const_cast<char*>(path.c_str());
        opts.pathspec.strings = pathspec_storage;
        opts.pathspec.count = 1;
    }
    return opts;
}

void find_renames(git_diff* diff) {
    git_diff_find_options find;
    git_diff_find_options_init(&find, GIT_DIFF_FIND_OPTIONS_VERSION);
    find.flags = GIT_DIFF_FIND_RENAMES;
    git_diff_find_similar(diff, &find);
}

// ---- git_status ------------------------------------------------------------------------------

ToolResult run_status(const json& /*args*/, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    git_status_options opts;
    git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
                 GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX | GIT_STATUS_OPT_SORT_CASE_SENSITIVELY;
    git_status_list* raw = nullptr;
    check(git_status_list_new(&raw, repo.raw(), &opts), "cannot read the status");
    StatusList list(raw);
    const std::string branch = repo.repo.head_unborn() ? "(no commits yet)" : repo.repo.head_name();
    json entries = json::array();
    std::string text = "branch " + branch + "\n";
    const std::size_t n = git_status_list_entrycount(list.get());
    for (std::size_t i = 0; i < n; ++i) {
        const git_status_entry* e = git_status_byindex(list.get(), i);
        if (e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED) != 0)
            continue;
        const git_diff_delta* staged = e->head_to_index;
        const git_diff_delta* unstaged = e->index_to_workdir;
        const char* path = staged != nullptr ? staged->new_file.path : unstaged->new_file.path;
        json entry = {{"path", path}};
        char x = ' ';
        char y = ' ';
        if (staged != nullptr) {
            x = status_letter(staged->status);
            entry["staged"] = status_word(staged->status);
            if (staged->status == GIT_DELTA_RENAMED)
                entry["old_path"] = staged->old_file.path;
        }
        if (unstaged != nullptr) {
            y = status_letter(unstaged->status);
            if (unstaged->status == GIT_DELTA_UNTRACKED)
                x = '?';
            entry["unstaged"] = status_word(unstaged->status);
        }
        if ((e->status & GIT_STATUS_CONFLICTED) != 0) {
            x = y = 'U';
            entry["conflicted"] = true;
        }
        entries.push_back(entry);
        text += std::string{x, y, ' '} + path + "\n";
    }
    if (entries.empty())
        text += "nothing to commit, working tree clean\n";
    ToolResult result;
    result.data = {{"branch", branch}, {"entries", entries}, {"clean", entries.empty()}};
    result.text = std::move(text);
    return result;
}

// ---- git_diff --------------------------------------------------------------------------------

ToolResult run_diff(const json& args, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    const std::string base = arg_string(args, "base");
    const std::string head = arg_string(args, "head");
    const bool staged = arg_bool(args, "staged", false);
    const std::string path =
        args.contains("path") ? repo.git_path(ctx.workspace, arg_string(args, "path")) : "";
    if (!head.empty() && base.empty()) {
        throw ToolError("head needs base: give both revisions to compare two commits");
    }
    if (!head.empty() && staged)
        throw ToolError("staged compares with the index: drop head");
    char* pathspec[1] = {nullptr};
    git_diff_options opts = diff_options(args, pathspec, path);
    git_diff* raw = nullptr;
    std::string what;
    if (!base.empty() && !head.empty()) {
        Tree a = repo.tree(base);
        Tree b = repo.tree(head);
        check(git_diff_tree_to_tree(&raw, repo.raw(), a.get(), b.get(), &opts), "diff failed");
        what = base + ".." + head;
    } else if (staged) {
        Tree a = base.empty() ? repo.head_tree() : repo.tree(base);
        check(git_diff_tree_to_index(&raw, repo.raw(), a.get(), nullptr, &opts), "diff failed");
        what = (base.empty() ? "HEAD" : base) + " vs index (staged)";
    } else if (!base.empty()) {
        Tree a = repo.tree(base);
        check(git_diff_tree_to_workdir_with_index(&raw, repo.raw(), a.get(), &opts), "diff failed");
        what = base + " vs working tree";
    } else {
        check(git_diff_index_to_workdir(&raw, repo.raw(), nullptr, &opts), "diff failed");
        what = "index vs working tree (unstaged)";
    }
    Diff diff(raw);
    find_renames(diff.get());
    json files = json::array();
    std::string text;
    render_diff(diff.get(), files, text);
    if (files.empty())
        text = "no differences (" + what + ")\n";
    ToolResult result;
    result.data = {{"compared", what}, {"files", files}, {"patch", text}};
    result.text = std::move(text);
    return result;
}

// ---- git_log ---------------------------------------------------------------------------------

// "2024-05-01", "2024-05-01T10:00:00" (UTC) or seconds since the epoch.
git_time_t parse_since(const std::string& since) {
    if (!since.empty() && std::all_of(since.begin(), since.end(), ::isdigit)) {
        return static_cast<git_time_t>(std::stoll(since));
    }
    std::tm tm{};
    const char* end = strptime(since.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || *end != '\0') {
        tm = {};
        end = strptime(since.c_str(), "%Y-%m-%d", &tm);
    }
    if (end == nullptr || *end != '\0') {
        throw ToolError("since: expected a date like 2024-05-01 or 2024-05-01T10:00:00, got '" +
                        since + "'");
    }
    return static_cast<git_time_t>(timegm(&tm));
}

bool touches(const Repo& repo, git_commit* commit, const std::string& path) {
    if (path.empty())
        return true;
    git_tree* tree = nullptr;
    check(git_commit_tree(&tree, commit), "cannot read a commit's tree");
    Tree own(tree);
    Tree parent_tree(nullptr);
    if (git_commit_parentcount(commit) > 0) {
        git_commit* parent = nullptr;
        check(git_commit_parent(&parent, commit, 0), "cannot read a parent commit");
        Commit p(parent);
        git_tree* pt = nullptr;
        check(git_commit_tree(&pt, parent), "cannot read a commit's tree");
        parent_tree.reset(pt);
    }
    char* spec[1] = {const_cast<char*>(path.c_str())};
    git_diff_options opts;
    git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
    opts.pathspec.strings = spec;
    opts.pathspec.count = 1;
    git_diff* raw = nullptr;
    check(git_diff_tree_to_tree(&raw, repo.raw(), parent_tree.get(), own.get(), &opts),
          "diff failed");
    Diff diff(raw);
    return git_diff_num_deltas(diff.get()) > 0;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

ToolResult run_log(const json& args, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    const std::string path =
        args.contains("path") ? repo.git_path(ctx.workspace, arg_string(args, "path")) : "";
    const auto limit = static_cast<std::size_t>(arg_int(args, "limit", 20));
    const std::string author = lower(arg_string(args, "author"));
    const std::string since_text = arg_string(args, "since");
    const git_time_t since = since_text.empty() ? 0 : parse_since(since_text);
    const std::string rev = arg_string(args, "rev", "HEAD");
    if (rev == "HEAD" && repo.repo.head_unborn()) {
        ToolResult empty;
        empty.data = {{"commits", json::array()}};
        empty.text = "no commits yet\n";
        return empty;
    }
    Commit start = repo.commit(rev);
    git_revwalk* raw = nullptr;
    check(git_revwalk_new(&raw, repo.raw()), "cannot walk the history");
    Revwalk walk(raw);
    git_revwalk_sorting(walk.get(), GIT_SORT_TIME);
    check(git_revwalk_push(walk.get(), git_commit_id(start.get())), "cannot walk the history");
    json commits = json::array();
    std::string text;
    git_oid oid;
    while (commits.size() < limit && git_revwalk_next(&oid, walk.get()) == 0) {
        git_commit* c = nullptr;
        check(git_commit_lookup(&c, repo.raw(), &oid), "cannot read a commit");
        Commit commit(c);
        const git_signature* sig = git_commit_author(commit.get());
        if (since != 0 && sig->when.time < since)
            break;  // time-sorted: the rest is older
        if (!author.empty() && lower(sig->name).find(author) == std::string::npos &&
            lower(sig->email).find(author) == std::string::npos) {
            continue;
        }
        if (!touches(repo, commit.get(), path))
            continue;
        const char* summary = git_commit_summary(commit.get());
        const std::string date = iso_time(sig->when.time, sig->when.offset);
        commits.push_back({{"id", full_id(&oid)},
                           {"short_id", short_id(&oid)},
                           {"author", sig->name},
                           {"email", sig->email},
                           {"date", date},
                           {"summary", summary != nullptr ? summary : ""},
                           {"message", git_commit_message(commit.get())},
                           {"parents", git_commit_parentcount(commit.get())}});
        text += short_id(&oid) + " " + date.substr(0, 10) + " " + sig->name + ": " +
                (summary != nullptr ? summary : "") + "\n";
    }
    if (commits.empty())
        text = "no commits match\n";
    ToolResult result;
    result.data = {{"commits", commits}};
    result.text = std::move(text);
    return result;
}

// ---- git_show --------------------------------------------------------------------------------

ToolResult run_show(const json& args, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    const std::string rev = arg_string(args, "rev");
    Commit commit = repo.commit(rev);
    const git_oid* oid = git_commit_id(commit.get());
    const git_signature* sig = git_commit_author(commit.get());
    git_tree* tree = nullptr;
    check(git_commit_tree(&tree, commit.get()), "cannot read the commit's tree");
    Tree own(tree);
    Tree parent_tree(nullptr);
    json parents = json::array();
    for (unsigned i = 0; i < git_commit_parentcount(commit.get()); ++i) {
        parents.push_back(full_id(git_commit_parent_id(commit.get(), i)));
    }
    if (git_commit_parentcount(commit.get()) > 0) {
        git_commit* parent = nullptr;
        check(git_commit_parent(&parent, commit.get(), 0), "cannot read the parent commit");
        Commit p(parent);
        git_tree* pt = nullptr;
        check(git_commit_tree(&pt, parent), "cannot read the parent's tree");
        parent_tree.reset(pt);
    }
    const std::string path =
        args.contains("path") ? repo.git_path(ctx.workspace, arg_string(args, "path")) : "";
    char* pathspec[1] = {nullptr};
    git_diff_options opts = diff_options(args, pathspec, path);
    git_diff* raw = nullptr;
    check(git_diff_tree_to_tree(&raw, repo.raw(), parent_tree.get(), own.get(), &opts),
          "diff failed");
    Diff diff(raw);
    find_renames(diff.get());
    json files = json::array();
    std::string patch;
    render_diff(diff.get(), files, patch);
    const std::string date = iso_time(sig->when.time, sig->when.offset);
    const std::string message = git_commit_message(commit.get());
    std::string text = "commit " + full_id(oid) + "\nAuthor: " + sig->name + " <" + sig->email +
                       ">\nDate:   " + date + "\n\n";
    std::size_t pos = 0;
    while (pos < message.size()) {
        std::size_t end = message.find('\n', pos);
        if (end == std::string::npos)
            end = message.size();
        text += "    " + message.substr(pos, end - pos) + "\n";
        pos = end + 1;
    }
    text += "\n" + patch;
    ToolResult result;
    result.data = {{"id", full_id(oid)}, {"author", sig->name}, {"email", sig->email},
                   {"date", date},       {"message", message},  {"parents", parents},
                   {"files", files},     {"patch", patch}};
    result.text = std::move(text);
    return result;
}

// ---- git_blame -------------------------------------------------------------------------------

ToolResult run_blame(const json& args, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    const std::string path = repo.git_path(ctx.workspace, arg_string(args, "path"));
    if (repo.repo.head_unborn())
        throw ToolError("the repository has no commits yet");
    Tree head = repo.head_tree();
    git_tree_entry* raw_entry = nullptr;
    if (git_tree_entry_bypath(&raw_entry, head.get(), path.c_str()) != 0) {
        throw ToolError(path + " is not in HEAD (new or untracked files have no history)");
    }
    TreeEntry entry(raw_entry);
    git_object* obj = nullptr;
    check(git_tree_entry_to_object(&obj, repo.raw(), entry.get()), "cannot read " + path);
    Blob blob(reinterpret_cast<git_blob*>(obj));
    if (git_blob_is_binary(blob.get()) != 0)
        throw ToolError(path + " is a binary file");
    const std::string content(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                              static_cast<std::size_t>(git_blob_rawsize(blob.get())));
    std::vector<std::string> lines;
    for (std::size_t pos = 0; pos < content.size();) {
        std::size_t end = content.find('\n', pos);
        if (end == std::string::npos)
            end = content.size();
        lines.push_back(content.substr(pos, end - pos));
        pos = end + 1;
    }
    const auto total = static_cast<std::int64_t>(lines.size());
    const std::int64_t start = arg_int(args, "start_line", 1);
    const std::int64_t end = std::min(arg_int(args, "end_line", total), total);
    if (start > total) {
        throw ToolError("start_line " + std::to_string(start) + " is past the end of " + path +
                        " at HEAD (" + std::to_string(total) + " lines)");
    }
    if (end < start)
        throw ToolError("end_line is before start_line");
    git_blame_options opts;
    git_blame_options_init(&opts, GIT_BLAME_OPTIONS_VERSION);
    opts.min_line = static_cast<std::size_t>(start);
    opts.max_line = static_cast<std::size_t>(end);
    git_blame* raw = nullptr;
    check(git_blame_file(&raw, repo.raw(), path.c_str(), &opts), "cannot blame " + path);
    Blame blame(raw);
    json out = json::array();
    std::string text;
    for (std::int64_t n = start; n <= end; ++n) {
        const git_blame_hunk* hunk =
            git_blame_get_hunk_byline(blame.get(), static_cast<std::size_t>(n));
        if (hunk == nullptr)
            continue;
        const git_signature* sig = hunk->final_signature;
        const std::string id = short_id(&hunk->final_commit_id);
        const std::string who = sig != nullptr ? sig->name : "?";
        const std::string date = sig != nullptr ? iso_time(sig->when.time, sig->when.offset) : "";
        const std::string& line = lines[static_cast<std::size_t>(n - 1)];
        out.push_back(
            {{"line", n}, {"commit", id}, {"author", who}, {"date", date}, {"text", line}});
        char num[32];
        std::snprintf(num, sizeof num, "%5lld", static_cast<long long>(n));
        text += id + " (" + who + " " + date.substr(0, 10) + " " + num + ") " + line + "\n";
    }
    ToolResult result;
    result.data = {{"path", path}, {"lines", out}};
    result.text = std::move(text);
    result.continuation_hint = "call git_blame with a smaller start_line/end_line range";
    return result;
}

// ---- git_branches ----------------------------------------------------------------------------

ToolResult run_branches(const json& /*args*/, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    git_branch_iterator* raw = nullptr;
    check(git_branch_iterator_new(&raw, repo.raw(), GIT_BRANCH_ALL), "cannot list branches");
    BranchIter iter(raw);
    git_reference* ref = nullptr;
    git_branch_t type;
    json branches = json::array();
    std::string text;
    while (git_branch_next(&ref, &type, iter.get()) == 0) {
        Reference owned(ref);
        const char* name = nullptr;
        git_branch_name(&name, ref);
        const bool is_head = git_branch_is_head(ref) == 1;
        json b = {{"name", name != nullptr ? name : "?"},
                  {"remote", type == GIT_BRANCH_REMOTE},
                  {"current", is_head}};
        const git_oid* target = git_reference_target(ref);
        if (target != nullptr)
            b["commit"] = short_id(target);
        std::string extra;
        git_reference* upstream = nullptr;
        if (type == GIT_BRANCH_LOCAL && git_branch_upstream(&upstream, ref) == 0) {
            Reference up(upstream);
            const char* up_name = nullptr;
            git_branch_name(&up_name, upstream);
            b["upstream"] = up_name != nullptr ? up_name : "";
            std::size_t ahead = 0, behind = 0;
            if (target != nullptr && git_reference_target(upstream) != nullptr &&
                git_graph_ahead_behind(&ahead, &behind, repo.raw(), target,
                                       git_reference_target(upstream)) == 0) {
                b["ahead"] = ahead;
                b["behind"] = behind;
                extra = " [" + std::string(up_name != nullptr ? up_name : "") + ": ahead " +
                        std::to_string(ahead) + ", behind " + std::to_string(behind) + "]";
            }
        }
        text += std::string(is_head ? "* " : "  ") + (type == GIT_BRANCH_REMOTE ? "remotes/" : "") +
                b["name"].get<std::string>() + " " + b.value("commit", "") + extra + "\n";
        branches.push_back(b);
    }
    if (branches.empty()) {
        text = repo.repo.head_unborn() ? "no branches yet (no commits)\n" : "no branches\n";
    }
    ToolResult result;
    result.data = {{"branches", branches}};
    result.text = std::move(text);
    return result;
}

// ---- git_commit ------------------------------------------------------------------------------

ToolResult run_commit(const json& args, ToolContext& ctx) {
    const Repo repo = Repo::open(ctx.workspace);
    const std::string message = arg_string(args, "message");
    if (message.find_first_not_of(" \t\n") == std::string::npos) {
        throw ToolError("the commit message is empty");
    }
    git_index* raw_index = nullptr;
    check(git_repository_index(&raw_index, repo.raw()), "cannot open the index");
    Index index(raw_index);
    if (args.contains("paths")) {
        for (const auto& p : args["paths"]) {
            const std::string user_path = p.get<std::string>();
            const std::string path = repo.git_path(ctx.workspace, user_path);
            if (path.empty())
                throw ToolError("paths: give files, not the repository root");
            if (fs::is_directory(repo.workdir / path)) {
                char* spec[1] = {const_cast<char*>(path.c_str())};
                git_strarray arr{spec, 1};
                check(git_index_add_all(index.get(), &arr, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr),
                      "cannot stage " + path);
                check(git_index_update_all(index.get(), &arr, nullptr, nullptr),
                      "cannot stage " + path);
            } else if (fs::exists(repo.workdir / path)) {
                check(git_index_add_bypath(index.get(), path.c_str()), "cannot stage " + path);
            } else if (git_index_get_bypath(index.get(), path.c_str(), 0) != nullptr) {
                check(git_index_remove_bypath(index.get(), path.c_str()),
                      "cannot stage the deletion of " + path);
            } else {
                throw ToolError("paths: " + user_path + " does not exist and is not tracked");
            }
        }
        check(git_index_write(index.get()), "cannot write the index");
    }
    Tree head_tree = repo.head_tree();
    git_diff* raw_diff = nullptr;
    check(git_diff_tree_to_index(&raw_diff, repo.raw(), head_tree.get(), index.get(), nullptr),
          "cannot compare the index with HEAD");
    Diff staged(raw_diff);
    const std::size_t changed = git_diff_num_deltas(staged.get());
    if (changed == 0) {
        throw ToolError("nothing to commit: no staged changes (pass paths to stage files)");
    }
    git_oid tree_id;
    check(git_index_write_tree(&tree_id, index.get()), "cannot write the tree");
    git_tree* raw_tree = nullptr;
    check(git_tree_lookup(&raw_tree, repo.raw(), &tree_id), "cannot read the new tree");
    Tree tree(raw_tree);
    git_signature* raw_sig = nullptr;
    bool default_identity = true;
    if (git_signature_default(&raw_sig, repo.raw()) != 0) {
        // No user.name/user.email configured: commit under a name that says who made it.
        check(git_signature_now(&raw_sig, "Osprey agent", "osprey@localhost"),
              "cannot make a signature");
        default_identity = false;
    }
    Signature sig(raw_sig);
    std::vector<const git_commit*> parents;
    Commit parent(nullptr);
    if (!repo.repo.head_unborn()) {
        parent = repo.commit("HEAD");
        parents.push_back(parent.get());
    }
    git_oid commit_id;
    check(git_commit_create(&commit_id, repo.raw(), "HEAD", sig.get(), sig.get(), nullptr,
                            message.c_str(), tree.get(), parents.size(), parents.data()),
          "cannot create the commit");
    ToolResult result;
    result.data = {{"id", full_id(&commit_id)},
                   {"short_id", short_id(&commit_id)},
                   {"files_changed", changed},
                   {"author", sig->name},
                   {"configured_identity", default_identity}};
    result.text = "committed " + short_id(&commit_id) + " (" + std::to_string(changed) + " file" +
                  (changed == 1 ? "" : "s") + ")" +
                  (default_identity ? "" : " as 'Osprey agent' (no user.name/user.email set)") +
                  ": " + message.substr(0, message.find('\n')) + "\n";
    return result;
}

}  // namespace

void add_git_tools(Registry& registry) {
    const json context = {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}};
    registry.add({"git_status",
                  "Show the current branch and changed files (XY path, as git status --short: X "
                  "staged, Y unstaged, ?? untracked).",
                  object_schema(json::object(), json::array()), Permission::read, run_status, ""});
    registry.add(
        {"git_diff",
         "Show a diff as a patch. No arguments: unstaged changes (working tree vs index). "
         "staged=true: index vs HEAD (or vs base). base only: base vs working tree. base and "
         "head: between two revisions. path limits it to a file or folder; context sets context "
         "lines (default 3).",
         object_schema({{"base", {{"type", "string"}}},
                        {"head", {{"type", "string"}}},
                        {"path", {{"type", "string"}}},
                        {"staged", {{"type", "boolean"}}},
                        {"context", context}},
                       json::array()),
         Permission::read, run_diff, "limit the diff with path"});
    registry.add({"git_log",
                  "List commits, newest first, from HEAD (or rev): path limits to commits "
                  "touching it, limit (default 20), author (substring of name or email), since "
                  "(date like 2024-05-01).",
                  object_schema({{"path", {{"type", "string"}}},
                                 {"limit", {{"type", "integer"}, {"minimum", 1}}},
                                 {"author", {{"type", "string"}}},
                                 {"since", {{"type", "string"}}},
                                 {"rev", {{"type", "string"}}}},
                                json::array()),
                  Permission::read, run_log, "lower limit or add path/since"});
    registry.add({"git_show",
                  "Show a commit (any revision: id, branch, HEAD~2, tag) with its message and "
                  "diff against its first parent; path limits the diff.",
                  object_schema({{"rev", {{"type", "string"}, {"minLength", 1}}},
                                 {"path", {{"type", "string"}}},
                                 {"context", context}},
                                {"rev"}),
                  Permission::read, run_show, "limit the diff with path"});
    registry.add({"git_blame",
                  "Show who last changed each line of a committed file (as of HEAD), for a line "
                  "range (1-based, inclusive).",
                  object_schema({{"path", {{"type", "string"}}},
                                 {"start_line", {{"type", "integer"}, {"minimum", 1}}},
                                 {"end_line", {{"type", "integer"}, {"minimum", 1}}}},
                                {"path"}),
                  Permission::read, run_blame, "use a smaller start_line/end_line range"});
    registry.add({"git_branches",
                  "List local and remote branches, marking the current one, with their commit and "
                  "how far each local branch is ahead of or behind its upstream.",
                  object_schema(json::object(), json::array()), Permission::read, run_branches,
                  ""});
    registry.add({"git_commit",
                  "Commit the staged changes with a message; paths (files or folders) are staged "
                  "first (deleted files are staged as deletions).",
                  object_schema({{"message", {{"type", "string"}, {"minLength", 1}}},
                                 {"paths", {{"type", "array"}, {"items", {{"type", "string"}}}}}},
                                {"message"}),
                  Permission::write, run_commit, ""});
}

}  // namespace osprey::tools
