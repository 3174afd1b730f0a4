#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <numeric>
#include <random>

#include "memory/kv_snapshot_file.hpp"
#include "memory/kv_snapshots.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::memory;
using osprey::test::TempDir;

namespace {

std::vector<std::int32_t> tokens(int n, int offset = 0) {
    std::vector<std::int32_t> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), offset);
    return t;
}

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::byte> out(n);
    for (auto& b : out) {
        b = static_cast<std::byte>(rng() & 0xFF);
    }
    return out;
}

std::filesystem::path write_sample(const TempDir& dir) {
    const auto path = dir.path() / "s.kv";
    KvSnapshotWriter w(path, "v4-flash@sha", tokens(100));
    w.add_section("layer.0", random_bytes(5000, 1));
    w.add_section("layer.1", random_bytes(3, 2));
    w.add_section("empty", {});
    const auto size = w.commit();
    CHECK(size == std::filesystem::file_size(path));
    return path;
}

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
}

std::string error_of(const std::filesystem::path& p,
                     std::string_view fingerprint = "v4-flash@sha") {
    try {
        read_kv_snapshot(p, fingerprint);
    } catch (const KvSnapshotError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a KV snapshot round-trips tokens and sections exactly") {
    TempDir dir;
    const auto path = write_sample(dir);
    CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    const KvSnapshot s = read_kv_snapshot(path, "v4-flash@sha");
    CHECK(s.version == kKvSnapshotVersion);
    CHECK(s.model_fingerprint == "v4-flash@sha");
    CHECK(s.tokens == tokens(100));
    REQUIRE(s.sections.size() == 3);
    CHECK(s.find("layer.0")->bytes == random_bytes(5000, 1));
    CHECK(s.find("layer.1")->bytes == random_bytes(3, 2));
    CHECK(s.find("empty")->bytes.empty());
    CHECK(s.find("nope") == nullptr);
    // No fingerprint to check against: accepted as is.
    CHECK(read_kv_snapshot(path, "").tokens.size() == 100);
}

TEST_CASE("an abandoned writer leaves nothing behind") {
    TempDir dir;
    const auto path = dir.path() / "x.kv";
    {
        KvSnapshotWriter w(path, "m", tokens(3));
        w.add_section("a", random_bytes(10, 3));
    }
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

TEST_CASE("truncated, flipped, foreign and future snapshots are detected with a clear reason") {
    TempDir dir;
    const auto path = write_sample(dir);
    const std::string good = read_all(path);

    SECTION("truncated anywhere") {
        for (const std::size_t keep :
             {std::size_t{0}, std::size_t{5}, std::size_t{30}, good.size() / 2, good.size() - 1}) {
            INFO("kept " << keep << " bytes");
            write_all(path, good.substr(0, keep));
            const std::string err = error_of(path);
            CHECK((err.find("truncated") != std::string::npos ||
                   err.find("bad magic") != std::string::npos));
        }
    }
    SECTION("one flipped byte anywhere is caught") {
        std::mt19937 rng(7);
        for (int trial = 0; trial < 64; ++trial) {
            std::string bad = good;
            const std::size_t at = rng() % bad.size();
            bad[at] = static_cast<char>(bad[at] ^ 0x20);
            write_all(path, bad);
            INFO("flipped byte " << at);
            CHECK_FALSE(error_of(path).empty());
        }
    }
    SECTION("wrong model") {
        const std::string err = error_of(path, "other-model");
        CHECK(err.find("was made for model 'v4-flash@sha', not the loaded model 'other-model'") !=
              std::string::npos);
    }
    SECTION("future format version") {
        std::string bad = good;
        const std::uint32_t future = kKvSnapshotVersion + 1;
        std::memcpy(bad.data() + 8, &future, sizeof future);
        write_all(path, bad);
        CHECK(error_of(path).find("written by a newer Osprey") != std::string::npos);
    }
    SECTION("trailing garbage") {
        std::string longer = good;
        longer.append("xyz");  // not `good + "xyz"`: g++ 12 warns falsely (-Wrestrict) on that
        write_all(path, longer);
        CHECK(error_of(path).find("3 unexpected bytes") != std::string::npos);
    }
    SECTION("not a snapshot at all") {
        write_all(path, "hello world, this is not a snapshot");
        CHECK(error_of(path).find("bad magic") != std::string::npos);
    }
}

TEST_CASE("the snapshot catalogue finds prefixes and evicts least recently used first") {
    TempDir dir;
    Store store = Store::open(dir.path());
    const auto sid = Sessions(store.db()).create({"/w", "", "", "think", {}, {}});
    KvSnapshots catalogue(store.db());
    const auto all = tokens(50);
    std::vector<std::int64_t> ids;
    for (const int n : {10, 30, 40}) {
        std::string name = "s";  // not "s" + to_string(n): g++ 12 warns falsely (-Wrestrict)
        name += std::to_string(n);
        name += ".kv";
        const auto file = dir.path() / name;
        std::ofstream(file) << std::string(static_cast<std::size_t>(n), 'x');
        ids.push_back(catalogue.record(
            {0, sid, file, n, token_prefix_hash(std::span(all).first(n)), "m", "c", n, 0}));
    }
    // A snapshot of another model never matches.
    catalogue.record({0, sid, dir.path() / "other.kv", 20,
                      token_prefix_hash(std::span(all).first(20)), "other", "c", 1000, 0});

    auto best = catalogue.longest_prefix("m", all);
    REQUIRE(best);
    CHECK(best->token_count == 40);
    // Diverging after token 35: the 30-token snapshot is the longest real prefix.
    auto diverged = all;
    diverged[35] = -1;
    best = catalogue.longest_prefix("m", diverged);
    REQUIRE(best);
    CHECK(best->token_count == 30);
    CHECK_FALSE(catalogue.longest_prefix("m", tokens(50, 1)).has_value());
    CHECK(catalogue.for_session(sid, "m").front().token_count == 40);

    CHECK(catalogue.total_bytes() == 1080);
    store.db().exec("UPDATE kv_snapshots SET last_used_at = id;");  // deterministic LRU order
    catalogue.touch(ids[0]);                                        // the 10-token one is now fresh
    CHECK(catalogue.evict_to_budget(50) == 3);  // evicts the 30, the 40 and the other-model one
    const auto left = catalogue.for_session(sid, "m");
    REQUIRE(left.size() == 1);
    CHECK(left[0].token_count == 10);
    CHECK(std::filesystem::exists(dir.path() / "s10.kv"));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "s40.kv"));
}
