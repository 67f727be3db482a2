// Backoff after a failed accept(), as the reference's acceptError (server.go).
//
// An accept that fails for lack of a resource (EMFILE/ENFILE when the descriptors run
// out, ENOBUFS, ENOMEM) leaves the connection in the listen backlog: the listener stays
// readable and an immediate retry fails the same way, a busy loop that also floods the
// log. So the listener sleeps 10 ms after the first error, twice as long after each
// further one up to 1 s, and is back to 10 ms after the first accept that succeeds. The
// log line is the reference's, once per sleep, so it is rate-limited by the same backoff:
//   "Temporary Client Accept Error(Too many open files), sleeping 10ms"
//
// Owned by one listener and touched only from its accept completion handler (one
// accept is outstanding at a time), so it needs no lock.
#pragma once

#include <algorithm>
#include <chrono>

namespace pylon::server {

class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kMinSleep{10};    // ACCEPT_MIN_SLEEP
  static constexpr std::chrono::milliseconds kMaxSleep{1000};  // ACCEPT_MAX_SLEEP

  // The sleep before the next accept after a failure; the one after it is twice as long.
  std::chrono::milliseconds next_sleep() {
    auto d = delay_;
    delay_ = std::min(delay_ * 2, kMaxSleep);
    return d;
  }
  void reset() { delay_ = kMinSleep; }

 private:
  std::chrono::milliseconds delay_ = kMinSleep;
};

}  // namespace pylon::server
