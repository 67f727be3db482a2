// Numbered 1 KiB streams for the client's write-path tests (publish_path_test.cc,
// write_now_test.cc): each publishing thread numbers its messages and pads them to its own
// length, and OrderCheck, a subscriber's handler, finds a message lost from the middle of a
// batch, a batch sent twice or a torn operation as a gap inside a run, a repeat or a payload
// of the wrong size.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "pylon/connection.h"

namespace pylon::test {

constexpr size_t kBody = 1024;

// "<seq> " padded to kBody + thread bytes, so each thread's messages have their own size.
inline std::string body(int thread, int seq) {
  std::string s = std::to_string(seq) + " ";
  s.resize(kBody + static_cast<size_t>(thread), static_cast<char>('a' + thread));
  return s;
}

// Checks what one subscriber receives from kThreads numbered publishers ("<subject>.<t>").
class OrderCheck {
 public:
  explicit OrderCheck(int threads) : last_(threads, -1), count_(threads, 0) {}
  MessageHandler handler() {
    return [this](Message& m) {
      const int t = m.subject.back() - '0';
      std::lock_guard lk(mu_);
      if (t < 0 || t >= static_cast<int>(last_.size())) {
        bad_ = "subject " + m.subject;
        return;
      }
      const size_t sp = m.data.find(' ');
      if (sp == std::string::npos || m.data.size() != kBody + static_cast<size_t>(t) ||
          m.data.find_first_not_of(static_cast<char>('a' + t), sp + 1) != std::string::npos) {
        if (bad_.empty()) bad_ = "torn message from thread " + std::to_string(t) + " (" + std::to_string(m.data.size()) + " bytes)";
        return;
      }
      const int seq = std::stoi(m.data.substr(0, sp));
      if (seq != last_[t] + 1) ++gaps_;
      if (seq <= last_[t] && bad_.empty()) {
        bad_ = "thread " + std::to_string(t) + ": " + std::to_string(seq) + " after " + std::to_string(last_[t]);
      }
      last_[t] = seq;
      ++count_[t];
      ++total_;
    };
  }
  std::string bad() const { std::lock_guard lk(mu_); return bad_; }
  int last(int t) const { std::lock_guard lk(mu_); return last_[t]; }
  int count(int t) const { std::lock_guard lk(mu_); return count_[t]; }
  long total() const { std::lock_guard lk(mu_); return total_; }
  int gaps() const { std::lock_guard lk(mu_); return gaps_; }  // a seq other than last + 1

 private:
  mutable std::mutex mu_;
  std::vector<int> last_, count_;
  long total_ = 0;
  int gaps_ = 0;
  std::string bad_;
};

// Runs `f` when the scope ends: a failed ASSERT returns early, and the publisher threads
// (which loop until told or until their connection closes) must end before they are joined.
struct OnExit {
  std::function<void()> f;
  ~OnExit() { f(); }
};

}  // namespace pylon::test
