// One event loop's deadlines of one kind (the clients' ping interval): entries ordered by
// deadline in an intrusive list, and one timer armed for the earliest. It replaces a timer
// per connection: an entry is 40 bytes inside its owner, where a steady_timer with its
// pending wait and its slot in Asio's timer heap took about 170 (memory at scale,
// docs/performance.md), and scheduling one costs no allocation and no heap operation.
//
// Ordering: the entries of one list nearly always share one duration, so a new deadline is
// the latest and goes at the tail; schedule() walks back from the tail only past later ones
// (after a reload shortened the interval), so the list stays ordered in any case.
//
// Threading and lifetime: loop thread only, list and entries alike. An entry is linked from
// schedule() until it fires or is cancelled; its owner cancels it before it can be freed
// (a connection does so when it closes, on its loop), and the list never touches an entry
// it does not hold. A firing entry is unlinked before its on_deadline() runs, which may
// schedule it again or close anything, this list's other entries included.
#pragma once

#include <chrono>
#include <cstddef>

#include "server/core/check.h"
#include "server/core/loop_timer.h"

namespace pylon::server {

class DeadlineList {
 public:
  using Clock = std::chrono::steady_clock;

  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    bool scheduled() const noexcept { return list_ != nullptr; }

   protected:
    ~Entry() { PYLON_DCHECK(list_ == nullptr); }
    // Loop thread, once per schedule(), after the entry was unlinked.
    virtual void on_deadline() = 0;

   private:
    friend class DeadlineList;
    DeadlineList* list_ = nullptr;
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    Clock::time_point when_{};
  };

  explicit DeadlineList(boost::asio::io_context& ctx) : timer_(ctx) {}
  ~DeadlineList() {
    while (head_ != nullptr) unlink(*head_);
  }
  DeadlineList(const DeadlineList&) = delete;
  DeadlineList& operator=(const DeadlineList&) = delete;

  // `e` fires at `when` (no earlier). Rescheduling moves it.
  void schedule(Entry& e, Clock::time_point when) {
    if (e.list_ != nullptr) e.list_->unlink(e);
    e.when_ = when;
    e.list_ = this;
    Entry* after = tail_;
    while (after != nullptr && after->when_ > when) after = after->prev_;
    e.prev_ = after;
    e.next_ = after != nullptr ? after->next_ : head_;
    (e.next_ != nullptr ? e.next_->prev_ : tail_) = &e;
    (after != nullptr ? after->next_ : head_) = &e;
    ++size_;
    if (head_ == &e) arm();
  }

  // Idempotent; an entry of another list is left alone.
  void cancel(Entry& e) {
    if (e.list_ == this) unlink(e);
  }

  size_t size() const noexcept { return size_; }

 private:
  void unlink(Entry& e) {
    (e.prev_ != nullptr ? e.prev_->next_ : head_) = e.next_;
    (e.next_ != nullptr ? e.next_->prev_ : tail_) = e.prev_;
    e.prev_ = e.next_ = nullptr;
    e.list_ = nullptr;
    --size_;
    // With nothing left, no wake-up either (an idle loop sleeps). A removed head otherwise
    // leaves the timer early, which then re-arms for the new head.
    if (head_ == nullptr) {
      timer_.cancel();
      armed_ = false;
    }
  }

  // The timer fires for the head; it is armed at most once (a later head needs no re-arm,
  // an earlier one does).
  void arm() {
    if (armed_ && armed_for_ <= head_->when_) return;
    armed_ = true;
    armed_for_ = head_->when_;
    timer_.expires_at(armed_for_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: re-armed or emptied, and that one decides
      armed_ = false;
      fire();
    });
  }

  void fire() {
    const Clock::time_point now = Clock::now();
    // Only the entries due now, and each at most once: one that schedules itself again
    // within `now` (a zero interval) waits for the next turn instead of spinning here.
    size_t budget = size_;
    while (head_ != nullptr && head_->when_ <= now && budget-- > 0) {
      Entry& e = *head_;
      unlink(e);
      e.on_deadline();
    }
    if (head_ != nullptr && !armed_) arm();
  }

  LoopTimer timer_;
  bool armed_ = false;
  Clock::time_point armed_for_{};
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pylon::server
