// client::FutexMutex's slow paths: spinning, sleeping and waking (futex_mutex.h).
#include "client/futex_mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pylon::client {

// The futex system call works on the int inside the atomic.
static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free);

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// The holder keeps the lock for a few hundred instructions: a short spin usually sees it
// free without a system call; past it the wait is a preempted holder, so sleep.
constexpr int kSpins = 100;

}  // namespace

void FutexMutex::lock_contended() noexcept {
  for (int i = 0; i < kSpins; ++i) {
    cpu_relax();
    int expected = state_.load(std::memory_order_relaxed);
    if (expected == 2) break;  // others sleep already: queue behind them
    if (expected == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
  }
  // Swapping in 2 takes the lock if it was free meanwhile (and then holds it as "maybe
  // waited for": one needless wake at the unlock, never a lost one).
  while (state_.exchange(2, std::memory_order_acquire) != 0) {
    syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
  }
}

void FutexMutex::wake_one() noexcept {
  syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace pylon::client
