// NUID: the unique-id scheme of the NATS clients (inbox names, ...). 22 base-62
// characters: a 12-character random prefix, then a 10-character sequence that grows by a
// random increment; the prefix is renewed when the sequence runs out. Fast (no syscall
// per id) and unique across processes with overwhelming probability.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace pylon::client {

class Nuid {
 public:
  static constexpr size_t kPrefixLen = 12;
  static constexpr size_t kSeqLen = 10;
  static constexpr size_t kTotalLen = kPrefixLen + kSeqLen;

  Nuid();
  std::string next();
  // A process-wide, thread-safe generator.
  static std::string global_next();

 private:
  void randomize_prefix();
  void reset_sequential();

  std::mt19937_64 rng_;
  char prefix_[kPrefixLen];
  int64_t seq_ = 0;
  int64_t inc_ = 0;
};

// Encodes n in base 62 (the NUID alphabet) into `out`, most significant first.
void append_base62(std::string& out, uint64_t n);

}  // namespace pylon::client
