// read_resume_state / read_fork_state over hand-written journals: the token context, the
// conversation and the next action after turns, tool results, rewinds (also nested) and a turn
// cut off in the middle of its tool calls.
#include <catch2/catch.hpp>

#include "agent/runtime/resume.hpp"
#include "memory/journal.hpp"
#include "memory/sessions.hpp"
#include "memory/store.hpp"
#include "tests/support/temp_dir.hpp"

using nlohmann::json;
using osprey::agent::read_fork_state;
using osprey::agent::read_resume_state;
using Tokens = std::vector<std::int32_t>;

namespace {

struct Fixture {
    osprey::test::TempDir tmp;
    osprey::memory::Store store = osprey::memory::Store::open(tmp.path());
    std::string id = osprey::memory::Sessions(store.db()).create({});
    osprey::memory::Journal journal{store.db(), id};
    std::int64_t streamed = 0;

    void add(const std::string& type, json fields, std::int64_t step = 0) {
        fields["type"] = type;
        if (type.rfind("agent.", 0) != 0) {
            fields["seq"] = streamed++;
        }
        journal.append(type, fields.dump(), step, osprey::memory::Durability::commit_now);
    }
    void turn(std::int64_t step, const Tokens& fed, const Tokens& generated, int calls,
              std::size_t script_turn) {
        json assistant = {{"role", "assistant"},
                          {"content", calls == 0 ? "answer " + std::to_string(step) : ""}};
        json list = json::array();
        for (int i = 0; i < calls; ++i) {
            assistant["tool_calls"][i] = {
                {"id", "call_" + std::to_string(step) + "_" + std::to_string(i)},
                {"type", "function"},
                {"function", {{"name", "read"}, {"arguments", "{}"}}}};
            list.push_back({{"name", "read"}, {"arguments", "{}"}, {"raw", "<invoke/>"}});
        }
        add("agent.turn",
            {{"step", step},
             {"assistant", assistant},
             {"calls", list},
             {"parse_error", nullptr},
             {"fed", fed},
             {"tokens", generated},
             {"eos", true},
             {"script_turn", script_turn}},
            step);
    }
    void append(std::int64_t step, const Tokens& tokens) {
        add("agent.append",
            {{"step", step},
             {"tail", json::array({{{"role", "tool"}, {"content", "r" + std::to_string(step)}}})},
             {"tokens", tokens}},
            step);
    }
};

}  // namespace

TEST_CASE("resume state: turns, tool results, an answer, and forks at each step") {
    Fixture f;
    f.add("session.started", {});
    f.add("agent.start", {{"prompt", "task"},
                          {"mode", "max"},
                          {"permission", "auto"},
                          {"messages", json::array({{{"role", "system"}}, {{"role", "user"}}})},
                          {"tokens", Tokens{1, 2, 3}}});
    f.turn(1, {1, 2, 3}, {10, 11}, 1, 0);
    f.add("tool.call", {{"call_id", "call_1_0"}}, 1);
    f.add("tool.result", {{"call_id", "call_1_0"}, {"status", "ok"}, {"output", "x"}}, 1);
    f.append(1, {20, 21});
    f.turn(2, {20, 21}, {30}, 1, 1);
    f.append(2, {40});
    f.turn(3, {40}, {50, 51}, 0, 2);
    f.add("session.completed", {}, 3);

    const auto s = read_resume_state(f.store.db(), f.id);
    CHECK(s.prompt == "task");
    CHECK(s.mode == "max");
    CHECK(s.permission == "auto");
    CHECK(s.context == Tokens{1, 2, 3, 10, 11, 20, 21, 30, 40, 50, 51});
    CHECK(s.pending.empty());
    CHECK(s.answered);
    CHECK(s.final_text == "answer 3");
    CHECK(s.steps == 3);
    CHECK(s.next_script_turn == 3);
    CHECK(s.messages.size() == 7);  // system, user, (assistant, tool) x 2, assistant
    CHECK(s.tail_start == 7);
    CHECK(s.streamed_events == 4);
    CHECK_FALSE(s.unfinished);

    const auto at1 = read_fork_state(f.store.db(), f.id, 1);
    CHECK(at1.context == Tokens{1, 2, 3, 10, 11});
    CHECK(at1.pending == Tokens{20, 21});
    CHECK(at1.steps == 1);
    CHECK(at1.messages.size() == 4);
    CHECK(at1.tail_start == 3);
    CHECK(at1.next_script_turn == 1);
    CHECK_FALSE(at1.answered);

    const auto at0 = read_fork_state(f.store.db(), f.id, 0);
    CHECK(at0.context.empty());
    CHECK(at0.pending == Tokens{1, 2, 3});
    CHECK_THROWS_WITH(read_fork_state(f.store.db(), f.id, 4), Catch::Contains("has no step 4"));
}

TEST_CASE("resume state: a rewind drops later steps, also when rewinds nest") {
    Fixture f;
    f.add("agent.start", {{"messages", json::array({{{"role", "system"}}, {{"role", "user"}}})},
                          {"tokens", Tokens{1}}});
    f.turn(1, {1}, {10}, 1, 0);
    f.append(1, {11});
    f.turn(2, {11}, {20}, 1, 1);
    f.append(2, {21});
    f.turn(3, {21}, {30}, 1, 2);
    f.append(3, {31});
    f.add("agent.rewind", {{"to_step", 1}}, 1);
    CHECK(read_resume_state(f.store.db(), f.id).context == Tokens{1, 10});
    CHECK(read_resume_state(f.store.db(), f.id).pending == Tokens{11});

    // The session went on from step 1 with a different step 2, then back to that step 2.
    f.turn(2, {11}, {25}, 1, 1);
    f.append(2, {26});
    f.turn(3, {26}, {35}, 1, 2);
    f.append(3, {36});
    f.add("agent.rewind", {{"to_step", 2}}, 2);
    const auto s = read_resume_state(f.store.db(), f.id);
    CHECK(s.context == Tokens{1, 10, 11, 25});
    CHECK(s.pending == Tokens{26});
    CHECK(s.steps == 2);
    CHECK(s.next_script_turn == 2);
    CHECK(s.messages.size() == 6);
}

TEST_CASE("resume state: a turn cut off in its tool calls is left open with what was done") {
    Fixture f;
    f.add("agent.start", {{"messages", json::array({{{"role", "system"}}, {{"role", "user"}}})},
                          {"tokens", Tokens{1}}});
    f.turn(1, {1}, {10}, 3, 0);
    f.add("tool.call", {{"call_id", "call_1_0"}}, 1);
    f.add("tool.call", {{"call_id", "call_1_1"}}, 1);
    f.add("tool.result", {{"call_id", "call_1_0"}, {"status", "ok"}, {"output", "done"}}, 1);

    const auto s = read_resume_state(f.store.db(), f.id);
    REQUIRE(s.unfinished);
    CHECK(s.context == Tokens{1, 10});
    CHECK(s.unfinished->calls.size() == 3);
    CHECK(s.unfinished->call_seqs.size() == 2);
    CHECK(s.unfinished->call_seqs.at(1) == 1);
    REQUIRE(s.unfinished->results.size() == 1);
    CHECK(s.unfinished->results.at(0).at("output") == "done");
    CHECK(s.messages.size() == 2);  // the open turn's message is carried separately
    CHECK_THROWS_WITH(read_fork_state(f.store.db(), f.id, 1),
                      Catch::Contains("did not finish its tool calls"));
}

TEST_CASE("resume state: a journal without agent state cannot be resumed") {
    Fixture f;
    f.add("session.started", {});
    CHECK_THROWS_WITH(read_resume_state(f.store.db(), f.id), Catch::Contains("has no agent state"));
}

TEST_CASE("resume state: a turn cut off by a budget is dropped on resume, also when it recurs") {
    Fixture f;
    f.add("agent.start", {{"messages", json::array({{{"role", "system"}}, {{"role", "user"}}})},
                          {"tokens", Tokens{1, 2}}});
    const auto partial = [&](const Tokens& fed, const Tokens& generated) {
        f.add("agent.turn",
              {{"step", 1},
               {"assistant", {{"role", "assistant"}, {"content", "cut"}}},
               {"calls", json::array()},
               {"parse_error", nullptr},
               {"fed", fed},
               {"tokens", generated},
               {"eos", false},
               {"script_turn", 0},
               {"partial", true}},
              1);
    };
    partial({1, 2}, {7, 8});
    auto s = read_resume_state(f.store.db(), f.id);
    CHECK(s.partial_turn);
    CHECK(s.context == Tokens{1, 2, 7, 8});
    osprey::agent::drop_partial_turn(s);
    CHECK(s.context.empty());
    CHECK(s.pending == Tokens{1, 2});
    CHECK(s.messages.size() == 2);

    // The resume journaled the drop and was cut off again: the replay ends in the same place.
    f.add("agent.drop_partial", json::object(), 1);
    partial({1, 2}, {9});
    s = read_resume_state(f.store.db(), f.id);
    CHECK(s.context == Tokens{1, 2, 9});
    osprey::agent::drop_partial_turn(s);
    CHECK(s.context.empty());
    CHECK(s.pending == Tokens{1, 2});
}
