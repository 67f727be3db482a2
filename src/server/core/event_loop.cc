#include "server/core/event_loop.h"

#include <algorithm>

#include "server/core/check.h"
#include "server/core/connection.h"

namespace pylon::server {

namespace {
thread_local EventLoop* t_current = nullptr;
}  // namespace

EventLoop* EventLoop::current() noexcept { return t_current; }

EventLoop::EventLoop(int index, EscapeHandler on_escape)
    : ctx_(1), on_escape_(std::move(on_escape)), work_(boost::asio::make_work_guard(ctx_)), index_(index),
      batch_((static_cast<uint64_t>(index) + 1) << 48), sweep_timer_(ctx_) {}

EventLoop::~EventLoop() { stop(); }

void EventLoop::start() {
  thread_ = std::thread([this] {
    tid_.store(std::this_thread::get_id(), std::memory_order_release);
    t_current = this;
    run();
  });
}

void EventLoop::run() {
  // Asio lets an exception from a handler propagate out of run(); run() may then be called
  // again without restart(). The handler that threw is gone; everything else stays queued.
  for (;;) {
    try {
      ctx_.run();
      return;
    } catch (const std::exception& e) {
      escaped_.fetch_add(1, std::memory_order_relaxed);
      if (on_escape_) on_escape_(index_, e.what());
    } catch (...) {
      escaped_.fetch_add(1, std::memory_order_relaxed);
      if (on_escape_) on_escape_(index_, "unknown exception");
    }
  }
}

void EventLoop::stop() {
  // Connections are closed before this; whatever handlers remain are dropped.
  work_.reset();
  ctx_.stop();
  if (thread_.joinable()) {
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
}

void EventLoop::touch(Connection* c) {
  PYLON_DCHECK(in_loop());
  // Several loops may touch one connection at once; the token only dedupes within
  // this loop's batch, and a second flush signal is harmless. The plain load first: a
  // connection touched again in the same batch (every message after the first) costs no
  // locked instruction.
  if (c->touch_token_.load(std::memory_order_relaxed) == batch_) return;
  if (c->touch_token_.exchange(batch_, std::memory_order_relaxed) != batch_) {
    touched_.push_back(c->shared_from_this());
  }
}

std::shared_ptr<Connection> EventLoop::flush_touched() {
  PYLON_DCHECK(in_loop());
  ++batch_;
  if (touched_.empty()) return nullptr;
  std::shared_ptr<Connection> stalled;
  // How many touched connections each other loop owns: a loop with one is sent its batch
  // right here when it is small (Connection::write_directly); a loop with several is woken
  // once and writes them itself, in parallel with this one.
  other_loops_.clear();
  for (auto& c : touched_) {
    EventLoop* l = &c->loop();
    if (l == this) continue;
    auto it = std::find_if(other_loops_.begin(), other_loops_.end(), [l](const auto& e) { return e.first == l; });
    if (it == other_loops_.end()) {
      other_loops_.emplace_back(l, 1);
    } else {
      ++it->second;
    }
  }
  for (auto& c : touched_) {
    bool direct = false;
    if (&c->loop() != this) {
      for (const auto& [l, n] : other_loops_) {
        if (l == &c->loop()) direct = n == 1;
      }
    }
    c->flush_signal(direct);
    if (c->stalled() && (!stalled || c->pending_bytes() > stalled->pending_bytes())) stalled = c;
  }
  touched_.clear();
  return stalled;
}

void EventLoop::sweep_while_held(std::weak_ptr<Sweepable> s) {
  PYLON_DCHECK(in_loop());
  sweepables_.push_back(std::move(s));
  arm_sweep();
}

void EventLoop::arm_sweep() {
  if (sweep_armed_ || sweepables_.empty()) return;
  sweep_armed_ = true;
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    sweep_armed_ = false;
    if (!ec) on_sweep_timer();
  });
}

void EventLoop::on_sweep_timer() {
  PYLON_DCHECK(in_loop());
  // By index: a sweep may register something new at the end, which waits for the next round.
  const size_t n = sweepables_.size();
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    std::shared_ptr<Sweepable> s = sweepables_[i].lock();
    if (!s || !s->sweep()) continue;
    if (kept != i) sweepables_[kept] = std::move(sweepables_[i]);
    ++kept;
  }
  sweepables_.erase(sweepables_.begin() + static_cast<std::ptrdiff_t>(kept),
                    sweepables_.begin() + static_cast<std::ptrdiff_t>(n));
  arm_sweep();
}

}  // namespace pylon::server
