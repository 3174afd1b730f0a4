// A sandboxed Process driven from an Asio event loop, as the agent does: the loop waits on the
// pidfd and the output pipe; nothing blocks.

#include <utility>  // Boost 1.74's awaitable.hpp misses it (see notes/dependencies.md)

#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <functional>

#include "sandbox/run.hpp"
#include "tests/support/temp_dir.hpp"

namespace asio = boost::asio;
using namespace osprey::sandbox;

TEST_CASE("a sandboxed process is awaited on an Asio loop while a timer keeps ticking") {
    osprey::test::TempDir ws;
    Policy policy;
    policy.workspace = ws.path();
    Process proc = Process::start(Command::shell("echo first; sleep 0.3; echo second"), policy);

    asio::io_context io;
    // Asio owns duplicates; the Process keeps (and closes) its own descriptors.
    asio::posix::stream_descriptor out(io, dup(proc.stdout_fd()));
    asio::posix::stream_descriptor exited(io, dup(proc.pidfd()));
    std::string streamed;
    bool init_exited = false;
    std::function<void()> wait_output = [&] {
        out.async_wait(asio::posix::stream_descriptor::wait_read,
                       [&](boost::system::error_code ec) {
                           if (ec) {
                               return;
                           }
                           proc.pump();
                           streamed += proc.take_new_stdout();
                           if (proc.stdout_fd() >= 0) {
                               wait_output();
                           }
                       });
    };
    wait_output();
    exited.async_wait(asio::posix::stream_descriptor::wait_read, [&](boost::system::error_code ec) {
        init_exited = !ec;
        proc.pump();
    });
    int ticks = 0;
    asio::steady_timer timer(io);
    std::function<void()> tick = [&] {
        timer.expires_after(std::chrono::milliseconds(20));
        timer.async_wait([&](boost::system::error_code ec) {
            if (!ec && !init_exited) {
                ++ticks;
                tick();
            }
        });
    };
    tick();
    io.run();

    const RunResult r = proc.finish();
    streamed += proc.take_new_stdout();
    CHECK(init_exited);
    CHECK(streamed == "first\nsecond\n");
    CHECK(r.ok());
    CHECK(ticks >= 5);  // the loop stayed free while the command ran
}
