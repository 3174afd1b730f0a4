#include <catch2/catch.hpp>

#include "memory/blobs.hpp"
#include "memory/journal.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace osprey::memory;
using osprey::test::TempDir;
using namespace std::chrono_literals;

TEST_CASE("events are numbered without gaps and read back in order") {
    TempDir dir;
    Store store = Store::open(dir.path());
    Sessions sessions(store.db());
    const auto id = sessions.create({"/w", "", "", "think", {}, {}});
    {
        Journal j(store.db(), id);
        CHECK(j.append("session.started", R"({"v":1})", 0, Durability::commit_now) == 0);
        CHECK(j.append("text.delta", R"({"text":"he"})", 1, Durability::batched) == 1);
        CHECK(j.append("text.delta", R"({"text":"llo"})", 1, Durability::batched) == 2);
        CHECK(j.append("tool.call", R"({"name":"read"})", 1, Durability::commit_now) == 3);
    }
    Journal resumed(store.db(), id);
    CHECK(resumed.next_seq() == 4);
    const auto events = read_journal(store.db(), id);
    REQUIRE(events.size() == 4);
    for (std::size_t i = 0; i < events.size(); ++i) {
        CHECK(events[i].seq == static_cast<std::int64_t>(i));
    }
    CHECK(events[2].payload == R"({"text":"llo"})");
    CHECK(events[3].type == "tool.call");
    CHECK(read_journal(store.db(), id, 2).size() == 2);
}

TEST_CASE("batched events become visible to other connections at the next durable event") {
    TempDir dir;
    Store writer = Store::open(dir.path());
    const auto id = Sessions(writer.db()).create({"/w", "", "", "think", {}, {}});
    Store reader = Store::open(dir.path());
    Journal j(writer.db(), id, 10s);  // a window long enough that only commit_now commits
    j.append("text.delta", R"({"text":"a"})", 0, Durability::batched);
    j.append("text.delta", R"({"text":"b"})", 0, Durability::batched);
    CHECK(read_journal(reader.db(), id).empty());
    j.append("tool.call", R"({"name":"shell"})", 0, Durability::commit_now);
    CHECK(read_journal(reader.db(), id).size() == 3);
    j.append("text.delta", R"({"text":"c"})", 0, Durability::batched);
    CHECK(read_journal(reader.db(), id).size() == 3);
    j.flush();
    CHECK(read_journal(reader.db(), id).size() == 4);
}

TEST_CASE("a batch window of zero commits every event") {
    TempDir dir;
    Store writer = Store::open(dir.path());
    const auto id = Sessions(writer.db()).create({"/w", "", "", "think", {}, {}});
    Store reader = Store::open(dir.path());
    Journal j(writer.db(), id, 0ms);
    j.append("text.delta", R"({"text":"a"})", 0, Durability::batched);
    CHECK(read_journal(reader.db(), id).size() == 1);
}

TEST_CASE("invalid JSON is refused without losing the batch before it") {
    TempDir dir;
    Store store = Store::open(dir.path());
    const auto id = Sessions(store.db()).create({"/w", "", "", "think", {}, {}});
    Journal j(store.db(), id, 10s);
    j.append("text.delta", R"({"text":"kept"})", 0, Durability::batched);
    CHECK_THROWS_AS(j.append("tool.result", "{not json", 0, Durability::commit_now), DatabaseError);
    CHECK(j.next_seq() == 1);
    CHECK(j.append("tool.result", R"({"ok":true})", 0, Durability::commit_now) == 1);
    CHECK(read_journal(store.db(), id).size() == 2);
}

TEST_CASE("search finds indexed text as plain words and forgets deleted sessions") {
    TempDir dir;
    Store store = Store::open(dir.path());
    Sessions sessions(store.db());
    const auto a = sessions.create({"/w", "", "", "think", {}, {}});
    const auto b = sessions.create({"/w", "", "", "think", {}, {}});
    {
        Journal ja(store.db(), a);
        ja.append("user.message", R"({"text":"fix the tokenizer crash"})", 0,
                  Durability::commit_now, "fix the tokenizer crash");
        ja.append("tool.result", R"({"output":"parse( failed"})", 1, Durability::commit_now,
                  "parse( failed at line 3");
        Journal jb(store.db(), b);
        jb.append("user.message", R"({"text":"tokenizer speed"})", 0, Durability::commit_now,
                  "make the Tokenizer faster");
    }
    auto hits = search_journal(store.db(), "tokenizer");
    CHECK(hits.size() == 2);
    hits = search_journal(store.db(), "tokenizer crash");
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].session_id == a);
    CHECK(hits[0].snippet.find("[tokenizer]") != std::string::npos);
    hits = search_journal(store.db(), "parse(");
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].type == "tool.result");
    CHECK(search_journal(store.db(), "   ").empty());
    sessions.remove(a);
    CHECK(search_journal(store.db(), "tokenizer").size() == 1);
}

TEST_CASE("blobs are stored once per content and verified on read") {
    TempDir dir;
    Store store = Store::open(dir.path());
    Blobs blobs(store.db());
    const std::string content("int main() {}\n\0binary", 22);
    const auto h1 = blobs.put(content);
    const auto h2 = blobs.put(content);
    CHECK(h1 == h2);
    CHECK(h1.size() == 32);
    CHECK(h1 == content_hash(content));
    CHECK(content_hash("a") != content_hash("b"));
    CHECK(blobs.get(h1) == content);
    CHECK_FALSE(blobs.get("0123").has_value());
    auto count = store.db().prepare("SELECT count(*) FROM blobs;");
    count.step();
    CHECK(count.column_int(0) == 1);
    store.db()
        .prepare("UPDATE blobs SET content = ?1 WHERE hash = ?2;")
        .bind_blob(1, "tampered")
        .bind(2, std::string_view(h1))
        .run();
    CHECK_THROWS_WITH(blobs.get(h1), Catch::Contains("is corrupted"));
}
