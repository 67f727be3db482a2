// The timer type of everything that runs on one event loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace pylon::server {

// A timer bound to its loop's io_context executor: 72 bytes, where steady_timer's type-erased
// executor makes it 120, and each wait it starts keeps 8 bytes of executor instead of 56
// (memory at scale, docs/performance.md). A connection's timers all run on its loop anyway.
using LoopTimer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                    boost::asio::wait_traits<std::chrono::steady_clock>,
                                                    boost::asio::io_context::executor_type>;

}  // namespace pylon::server
