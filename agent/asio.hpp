#pragma once
// The one way project code includes Boost.Asio. Boost 1.74's awaitable.hpp uses std::exchange
// without including <utility>; including it first here fixes that for every user.

#include <utility>

#include <boost/asio.hpp>

namespace osprey {
namespace asio = boost::asio;
}  // namespace osprey
