#include "tools/codenav/repo_map.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace osprey::tools {
namespace {

constexpr std::size_t kMaxDefiningFiles = 30;  // names defined more widely say little
constexpr int kIterations = 30;
constexpr double kDamping = 0.85;

struct MapSymbol {
    std::size_t file;
    std::string name;
    std::string kind;
    std::uint32_t line;
    std::string signature;
    int depth;
    double usage = 1;  // 1 + log(1 + files referencing the name), the same for every repo_map
};

bool path_matches(const std::string& path, const std::string& focus) {
    if (path == focus)
        return true;
    return path.size() > focus.size() && path.compare(0, focus.size(), focus) == 0 &&
           path[focus.size()] == '/';
}

// What every repo_map of an unchanged index shares: files, candidate symbols, who defines and who
// uses each name, and the weighted file graph. Built once per index version.
struct RepoGraph {
    std::vector<std::string> paths;
    std::vector<MapSymbol> symbols;
    std::unordered_map<std::string, std::vector<std::size_t>> defined_in;  // name → files
    std::unordered_map<std::string, std::size_t> used_by;             // name → referencing files
    std::vector<std::tuple<std::size_t, std::size_t, double>> edges;  // from, to, weight
    std::vector<double> out_weight;
};

void set_usage(RepoGraph& graph) {
    for (auto& s : graph.symbols) {
        const auto it = graph.used_by.find(s.name);
        const std::size_t used = it == graph.used_by.end() ? 0 : it->second;
        s.usage = 1.0 + std::log1p(static_cast<double>(used));
    }
}

std::shared_ptr<const RepoGraph> build_graph(SymbolIndex& index) {
    auto& db = index.database();
    auto graph = std::make_shared<RepoGraph>();
    auto& paths = graph->paths;
    std::unordered_map<std::int64_t, std::size_t> file_of_id;
    {
        auto q = db.prepare("SELECT id, path FROM codenav_files ORDER BY path");
        while (q.step()) {
            file_of_id[q.column_int(0)] = paths.size();
            paths.push_back(q.column_text(1));
        }
    }
    auto& symbols = graph->symbols;
    auto& defined_in = graph->defined_in;
    {
        auto q = db.prepare(
            "SELECT file_id, name, kind, start_line, signature, depth, declaration FROM "
            "codenav_symbols WHERE depth <= 2 AND kind NOT IN ('namespace', 'module')");
        while (q.step()) {
            const std::size_t file = file_of_id[q.column_int(0)];
            MapSymbol s{file,
                        q.column_text(1),
                        q.column_text(2),
                        static_cast<std::uint32_t>(q.column_int(3)),
                        q.column_text(4),
                        static_cast<int>(q.column_int(5))};
            auto& files = defined_in[s.name];
            if (files.empty() || files.back() != file)
                files.push_back(file);
            // Data members and enumerators are detail a map can leave out.
            const bool member_detail =
                s.kind == "field" || s.kind == "constant" || (s.depth > 0 && s.kind == "variable");
            if (!member_detail)
                symbols.push_back(std::move(s));
        }
    }
    std::unordered_map<std::uint64_t, double> edges;
    {
        auto q = db.prepare("SELECT file_id, name, count FROM codenav_refs");
        std::string name;
        while (q.step()) {
            name = q.column_text(1);
            auto it = defined_in.find(name);
            if (it == defined_in.end())
                continue;
            const std::size_t from = file_of_id[q.column_int(0)];
            ++graph->used_by[name];
            const auto& targets = it->second;
            if (targets.size() > kMaxDefiningFiles)
                continue;
            const double w = std::sqrt(static_cast<double>(q.column_int(2))) /
                             static_cast<double>(targets.size());
            for (const std::size_t to : targets) {
                if (to != from)
                    edges[(static_cast<std::uint64_t>(from) << 32) | to] += w;
            }
        }
    }
    graph->out_weight.assign(paths.size(), 0.0);
    for (const auto& [key, w] : edges) {
        graph->edges.emplace_back(key >> 32, key & 0xffffffffU, w);
        graph->out_weight[key >> 32] += w;
    }
    set_usage(*graph);
    return graph;
}

}  // namespace

RepoMap build_repo_map(SymbolIndex& index, const RepoMapOptions& options) {
    if (!index.derived_cache || index.derived_cache_version != index.content_version()) {
        index.derived_cache = std::const_pointer_cast<RepoGraph>(build_graph(index));
        index.derived_cache_version = index.content_version();
    }
    const auto graph = std::static_pointer_cast<const RepoGraph>(index.derived_cache);
    const auto& paths = graph->paths;
    const auto& defined_in = graph->defined_in;
    const std::size_t n = paths.size();
    const std::vector<MapSymbol>& symbols = graph->symbols;
    // Personalisation: focus files and folders, and the files defining focus symbols.
    std::vector<double> personal(n, 0.0);
    std::unordered_set<std::string> focus_names;
    for (const auto& f : options.focus) {
        bool matched_path = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (path_matches(paths[i], f)) {
                personal[i] = 1.0;
                matched_path = true;
            }
        }
        if (!matched_path) {
            focus_names.insert(f);
            if (auto it = defined_in.find(f); it != defined_in.end()) {
                for (const std::size_t file : it->second)
                    personal[file] = 1.0;
            }
        }
    }
    double personal_sum = 0;
    for (const double p : personal)
        personal_sum += p;
    if (personal_sum == 0) {
        std::fill(personal.begin(), personal.end(), 1.0);
        personal_sum = static_cast<double>(n);
    }
    for (double& p : personal)
        p /= personal_sum;

    const auto& out_weight = graph->out_weight;
    std::vector<double> rank(personal);
    std::vector<double> next(n);
    for (int iter = 0; iter < kIterations && n > 0; ++iter) {
        double dangling = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (out_weight[i] == 0)
                dangling += rank[i];
        }
        for (std::size_t i = 0; i < n; ++i) {
            next[i] = (1 - kDamping + kDamping * dangling) * personal[i];
        }
        for (const auto& [from, to, w] : graph->edges) {
            next[to] += kDamping * rank[from] * w / out_weight[from];
        }
        rank.swap(next);
    }

    // Ranked by score through a list of indices: the shared symbols are neither copied nor moved.
    std::vector<double> score(symbols.size());
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        const MapSymbol& s = symbols[i];
        score[i] = rank[s.file] * s.usage * (focus_names.count(s.name) != 0 ? 10.0 : 1.0) *
                   (s.kind == "method" ? 0.5 : 1.0);
    }
    std::vector<std::size_t> order(symbols.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });

    // Greedy fill of the budget (about 4 characters per token).
    const std::size_t budget_chars = options.budget_tokens * 4;
    std::size_t used_chars = 0;
    std::unordered_map<std::size_t, std::vector<const MapSymbol*>> chosen;
    std::vector<std::size_t> file_order;
    std::size_t misses = 0;
    for (const std::size_t i : order) {
        const MapSymbol& s = symbols[i];
        const std::size_t cost =
            s.signature.size() + 10 + (chosen.count(s.file) == 0 ? paths[s.file].size() + 2 : 0);
        if (used_chars + cost > budget_chars) {
            if (++misses > 50)
                break;
            continue;
        }
        used_chars += cost;
        if (chosen.count(s.file) == 0)
            file_order.push_back(s.file);
        chosen[s.file].push_back(&s);
    }
    RepoMap map;
    nlohmann::json files = nlohmann::json::array();
    for (const std::size_t f : file_order) {
        auto& list = chosen[f];
        std::sort(list.begin(), list.end(),
                  [](const MapSymbol* a, const MapSymbol* b) { return a->line < b->line; });
        map.text += paths[f] + ":\n";
        nlohmann::json entries = nlohmann::json::array();
        for (const MapSymbol* s : list) {
            map.text += std::string(s->kind == "method" ? "    " : "  ") + std::to_string(s->line) +
                        ": " + s->signature + "\n";
            entries.push_back({{"name", s->name},
                               {"kind", s->kind},
                               {"line", s->line},
                               {"signature", s->signature}});
        }
        files.push_back({{"path", paths[f]}, {"rank", rank[f]}, {"symbols", entries}});
    }
    if (file_order.empty())
        map.text = "(no symbols indexed)\n";
    map.data = {{"files", files},
                {"indexed_files", n},
                {"estimated_tokens", (used_chars + 3) / 4},
                {"budget", options.budget_tokens}};
    return map;
}

}  // namespace osprey::tools
