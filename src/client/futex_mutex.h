// client::FutexMutex — the lock of a connection's shared state (Core::mu_), which every
// publish() takes.
//
// Why not std::mutex: through libstdc++'s gthr wrappers and glibc's pthread_mutex_lock and
// pthread_mutex_unlock (which check the mutex's type, owner and user count), a lock and an
// unlock cost about 73 instructions of a 584-instruction publish (callgrind, `pylon bench
// --pub 1`, 16 B; docs/performance.md). Here, uncontended, a lock is one inlined
// compare-exchange and an unlock one inlined exchange: the same two atomic operations, none
// of the rest (about 21 instructions with the std::unique_lock around them).
//
// Contended, it sleeps on a futex (Drepper, "Futexes Are Tricky", mutex 3): the word is 0
// (free), 1 (held) or 2 (held, and someone may sleep on it). A locker that finds it held
// spins briefly (the critical sections are a few hundred instructions), then swaps in 2
// and sleeps while the word stays 2; an unlock that swaps out a 2 wakes one sleeper, which
// swaps in 2 again, so a later unlock wakes any other. Acquire on every successful swap,
// release on the unlock: what one holder wrote, the next one sees (and ThreadSanitizer
// follows those atomics, so it checks what this lock guards like any other).
//
// Meets Lockable: std::lock_guard and std::unique_lock take it, std::condition_variable_any
// waits with it. Not recursive, no owner check (as std::mutex in a release build).
#pragma once

#include <atomic>

namespace pylon::client {

class FutexMutex {
 public:
  FutexMutex() = default;
  FutexMutex(const FutexMutex&) = delete;
  FutexMutex& operator=(const FutexMutex&) = delete;

  void lock() noexcept {
    int expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
    lock_contended();
  }
  bool try_lock() noexcept {
    int expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }

 private:
  void lock_contended() noexcept;  // futex_mutex.cc
  void wake_one() noexcept;

  std::atomic<int> state_{0};  // 0 free, 1 held, 2 held and maybe waited for
};

}  // namespace pylon::client
