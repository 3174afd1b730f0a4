#include <catch2/catch.hpp>

#include <chrono>

#include "agent/asio.hpp"

// Proves the toolchain builds Asio C++20 coroutines through agent/asio.hpp (Boost 1.74 + g++ 12),
// which the agent loop is built on.
TEST_CASE("an awaitable coroutine runs timers on the io_context") {
    using namespace std::chrono_literals;
    osprey::asio::io_context ctx;
    std::vector<int> order;
    auto worker = [&](int id, std::chrono::milliseconds delay) -> osprey::asio::awaitable<void> {
        osprey::asio::steady_timer timer(co_await osprey::asio::this_coro::executor, delay);
        co_await timer.async_wait(osprey::asio::use_awaitable);
        order.push_back(id);
    };
    osprey::asio::co_spawn(ctx, worker(1, 30ms), osprey::asio::detached);
    osprey::asio::co_spawn(ctx, worker(2, 1ms), osprey::asio::detached);
    ctx.run();
    CHECK(order == std::vector<int>{2, 1});
}
