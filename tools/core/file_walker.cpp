#include "tools/core/file_walker.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "tools/core/glob.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;

namespace {

std::string read_small_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void load_rules(const fs::path& dir, const std::string& base, std::vector<IgnoreRule>& rules) {
    auto more = parse_gitignore(read_small_file(dir / ".gitignore"), base);
    rules.insert(rules.end(), more.begin(), more.end());
}

struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
};

struct Walker {
    const Workspace& ws;
    const WalkOptions& options;
    const std::function<bool(const WalkEntry&)>& visit;
    std::vector<IgnoreRule> rules;

    void run(const fs::path& dir, const std::string& rel, int depth) {
        if (depth > options.max_depth)
            return;
        const std::size_t rules_before = rules.size();
        if (options.respect_gitignore && depth > 1) {
            load_rules(dir, rel, rules);
        }
        std::vector<std::pair<std::string, unsigned char>> names;
        {
            std::unique_ptr<DIR, DirCloser> handle(opendir(dir.c_str()));
            if (!handle) {
                rules.resize(rules_before);
                return;  // unreadable folders are skipped, as git does
            }
            while (const dirent* e = readdir(handle.get())) {
                const std::string_view name = e->d_name;
                if (name == "." || name == ".." || name == ".git")
                    continue;
                names.emplace_back(name, e->d_type);
            }
        }
        std::sort(names.begin(), names.end());
        for (const auto& [name, type] : names) {
            const fs::path path = dir / name;
            const std::string child_rel = rel.empty() ? name : rel + "/" + name;
            bool is_dir = type == DT_DIR;
            if (type == DT_UNKNOWN || type == DT_LNK) {
                struct stat st {};
                if (lstat(path.c_str(), &st) != 0)
                    continue;
                if (S_ISLNK(st.st_mode)) {
                    std::error_code ec;
                    const fs::path target = fs::canonical(path, ec);
                    if (ec || !ws.contains(target) || fs::is_directory(target, ec))
                        continue;
                    is_dir = false;
                } else {
                    is_dir = S_ISDIR(st.st_mode);
                }
            } else if (type != DT_REG && type != DT_DIR) {
                continue;  // sockets, fifos, devices
            }
            if (options.respect_gitignore && is_ignored(rules, child_rel, is_dir))
                continue;
            WalkEntry entry{path, child_rel, is_dir, depth};
            const bool descend = visit(entry);
            if (is_dir && descend)
                run(path, child_rel, depth + 1);
        }
        rules.resize(rules_before);
    }
};

}  // namespace

std::vector<IgnoreRule> parse_gitignore(std::string_view text, const std::string& base) {
    std::vector<IgnoreRule> rules;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string line(text.substr(pos, end - pos));
        pos = end + 1;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        // Trailing spaces are dropped unless escaped.
        while (!line.empty() && line.back() == ' ' &&
               !(line.size() >= 2 && line[line.size() - 2] == '\\')) {
            line.pop_back();
        }
        if (line.empty() || line[0] == '#')
            continue;
        IgnoreRule rule;
        rule.base = base;
        if (line[0] == '!') {
            rule.negate = true;
            line.erase(0, 1);
        } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '#' || line[1] == '!')) {
            line.erase(0, 1);
        }
        if (!line.empty() && line.back() == '/') {
            rule.dir_only = true;
            line.pop_back();
        }
        if (line.empty())
            continue;
        rule.anchored = line.find('/') != std::string::npos;
        if (line[0] == '/')
            line.erase(0, 1);
        rule.pattern = line;
        rules.push_back(std::move(rule));
    }
    return rules;
}

bool is_ignored(const std::vector<IgnoreRule>& rules, std::string_view relative, bool is_dir) {
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
        const IgnoreRule& rule = *it;
        if (rule.dir_only && !is_dir)
            continue;
        std::string_view sub = relative;
        if (!rule.base.empty()) {
            if (sub.size() <= rule.base.size() ||
                sub.compare(0, rule.base.size(), rule.base) != 0 || sub[rule.base.size()] != '/') {
                continue;
            }
            sub.remove_prefix(rule.base.size() + 1);
        }
        bool hit;
        if (rule.anchored) {
            hit = glob_match(rule.pattern, sub);
        } else {
            const std::size_t slash = sub.rfind('/');
            hit = glob_match(rule.pattern,
                             slash == std::string_view::npos ? sub : sub.substr(slash + 1));
        }
        if (hit)
            return !rule.negate;
    }
    return false;
}

void walk(const Workspace& ws, const fs::path& start, const WalkOptions& options,
          const std::function<bool(const WalkEntry&)>& visit) {
    Walker walker{ws, options, visit, {}};
    const std::string start_rel = start == ws.root() ? std::string() : ws.relative(start);
    if (options.respect_gitignore) {
        walker.rules =
            parse_gitignore(read_small_file(ws.root() / ".git" / "info" / "exclude"), "");
        // Rules from the root down to `start` apply to it too.
        load_rules(ws.root(), "", walker.rules);
        fs::path dir = ws.root();
        std::string rel;
        for (const auto& part : fs::path(start_rel)) {
            dir /= part;
            rel = rel.empty() ? part.string() : rel + "/" + part.string();
            load_rules(dir, rel, walker.rules);
        }
    }
    // The start folder's own .gitignore was just loaded: tell run() not to load it again.
    walker.run(start, start_rel, 1);
}

std::vector<WalkEntry> list_files(const Workspace& ws, const fs::path& start,
                                  const WalkOptions& options) {
    std::vector<WalkEntry> files;
    walk(ws, start, options, [&](const WalkEntry& e) {
        if (!e.is_dir)
            files.push_back(e);
        return true;
    });
    std::sort(files.begin(), files.end(),
              [](const WalkEntry& a, const WalkEntry& b) { return a.relative < b.relative; });
    return files;
}

}  // namespace osprey::tools
