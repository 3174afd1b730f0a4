// KV session: chunked prefill equals whole prefill, decode, truncation and snapshots (fp32 mode).
#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "model/npy.hpp"
#include "model/session.hpp"
#include "model/weights.hpp"
#include "tests/model/golden_compare.hpp"

namespace fs = std::filesystem;
using namespace osprey::model;

namespace {

fs::path golden(const std::string& name) {
    return fs::path(OSPREY_SHARED_DIR) / "golden" / name;
}

struct Fixture {
    std::shared_ptr<Backend> backend;
    std::vector<std::int32_t> prompt;
    std::int64_t vocab = 0;

    explicit Fixture(const std::string& name) {
        auto w = load_model(golden(name));
        vocab = w->config.vocab_size;
        backend = make_cpu_backend(w);
        prompt = read_npy_i32(golden(name) / "prompt_ids.npy").data;
    }
};

double max_rel(const std::vector<float>& a, const std::vector<float>& b, std::int64_t vocab) {
    REQUIRE(a.size() == b.size());
    const auto s = osprey::test::compare_rows(a.data(), b.data(),
                                              static_cast<std::int64_t>(a.size()) / vocab, vocab);
    return s.max_rel();
}

}  // namespace

TEST_CASE("chunked prefill of any chunk size equals whole prefill (fp32, tiny-a and tiny-b)") {
    for (const char* name : {"tiny-a", "tiny-b"}) {
        Fixture f(name);
        Session whole(f.backend);
        const auto ref = whole.append(f.prompt);
        for (std::int64_t chunk : {1, 3, 7, 64}) {
            Session s(f.backend);
            const auto got = s.append(f.prompt, chunk);
            INFO(name << " chunk " << chunk);
            CHECK(max_rel(got, ref, f.vocab) <= 1e-5);
            CHECK(s.token_count() == static_cast<std::int64_t>(f.prompt.size()));
            CHECK(s.byte_size() == whole.byte_size());
        }
    }
}

TEST_CASE("decode continues a prefill exactly like a longer prefill") {
    Fixture f("tiny-a");
    Session whole(f.backend);
    const auto ref = whole.append(f.prompt);
    const std::int64_t P = static_cast<std::int64_t>(f.prompt.size());
    Session s(f.backend);
    s.append(std::span<const std::int32_t>(f.prompt).first(100));
    for (std::int64_t i = 100; i < P; ++i) {
        const auto l = s.decode(f.prompt[static_cast<std::size_t>(i)]);
        const std::vector<float> want(ref.begin() + i * f.vocab, ref.begin() + (i + 1) * f.vocab);
        CHECK(max_rel(l, want, f.vocab) <= 1e-5);
    }
}

TEST_CASE("session memory grows with use and reports its exact size") {
    Fixture f("tiny-a");
    Session s(f.backend);
    const std::int64_t empty = s.byte_size();
    s.append(std::span<const std::int32_t>(f.prompt).first(64));
    const std::int64_t at64 = s.byte_size();
    s.append(std::span<const std::int32_t>(f.prompt).subspan(64, 64));
    const std::int64_t at128 = s.byte_size();
    CHECK(at64 > empty);
    // Rings are fixed; rows and token ids grow linearly: the second 64 tokens cost the same.
    CHECK(at128 - at64 == at64 - empty);
    SessionOptions big;
    big.capacity = 1 << 20;
    Session huge(f.backend, big);
    CHECK(huge.byte_size() == empty);
}

TEST_CASE("truncate rewinds within the margin and replays beyond it") {
    Fixture f("tiny-a");
    Session whole(f.backend);
    const auto ref = whole.append(f.prompt);
    const std::int64_t P = static_cast<std::int64_t>(f.prompt.size());
    for (std::int64_t margin : {256, 5}) {
        SessionOptions o;
        o.rewind_margin = margin;
        Session s(f.backend, o);
        s.append(f.prompt);
        const std::int64_t L = 101;
        s.truncate(L);
        CHECK(s.token_count() == L);
        const auto tail = s.append(std::span<const std::int32_t>(f.prompt).subspan(L));
        const std::vector<float> want(ref.begin() + L * f.vocab, ref.end());
        INFO("margin " << margin);
        CHECK(max_rel(tail, want, f.vocab) <= 1e-5);
        CHECK(s.token_count() == P);
    }
    Session s(f.backend);
    CHECK_THROWS(s.truncate(1));
}

TEST_CASE("a saved session restores to the same state") {
    Fixture f("tiny-a");
    Session a(f.backend);
    a.append(std::span<const std::int32_t>(f.prompt).first(90));
    std::stringstream buf;
    a.save(buf);
    Session b = Session::load(f.backend, buf);
    CHECK(b.token_count() == 90);
    CHECK(b.byte_size() == a.byte_size());
    const auto la = a.decode(f.prompt[90]);
    const auto lb = b.decode(f.prompt[90]);
    CHECK(max_rel(lb, la, f.vocab) <= 1e-5);
    std::stringstream junk("not a snapshot");
    CHECK_THROWS_WITH(Session::load(f.backend, junk), Catch::Contains("bad magic"));
}
