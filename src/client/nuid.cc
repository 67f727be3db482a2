#include "client/nuid.h"

namespace pylon::client {

namespace {
constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int64_t kBase = 62;
constexpr int64_t kMaxSeq = 839299365868340224LL;  // 62^10
constexpr int64_t kMinInc = 33, kMaxInc = 333;
}  // namespace

Nuid::Nuid() : rng_(std::random_device{}()) {
  randomize_prefix();
  reset_sequential();
}

void Nuid::randomize_prefix() {
  for (char& c : prefix_) c = kDigits[rng_() % kBase];
}

void Nuid::reset_sequential() {
  seq_ = static_cast<int64_t>(rng_() % static_cast<uint64_t>(kMaxSeq));
  inc_ = kMinInc + static_cast<int64_t>(rng_() % static_cast<uint64_t>(kMaxInc - kMinInc));
}

std::string Nuid::next() {
  seq_ += inc_;
  if (seq_ >= kMaxSeq) {
    randomize_prefix();
    reset_sequential();
  }
  std::string out(kTotalLen, '0');
  std::copy(prefix_, prefix_ + kPrefixLen, out.begin());
  int64_t l = seq_;
  for (size_t i = kTotalLen; i > kPrefixLen; --i) {
    out[i - 1] = kDigits[l % kBase];
    l /= kBase;
  }
  return out;
}

std::string Nuid::global_next() {
  static std::mutex mu;
  static Nuid nuid;
  std::lock_guard lk(mu);
  return nuid.next();
}

void append_base62(std::string& out, uint64_t n) {
  char buf[16];
  size_t i = sizeof buf;
  do {
    buf[--i] = kDigits[n % kBase];
    n /= kBase;
  } while (n != 0);
  out.append(buf + i, sizeof buf - i);
}

}  // namespace pylon::client
