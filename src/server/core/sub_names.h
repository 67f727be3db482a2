// The three names of a subscription (its subject, queue group and sid) in one immutable
// 56-byte value: back to back inline when together they fit in 53 bytes, which a client's
// subscription nearly always does; otherwise one heap block of their exact total size.
// Set once when the subscription is made, never changed (the index, the owner's sid table and
// every match result read them without a lock), and read as string_views.
//
// Memory at scale (docs/performance.md): three std::strings cost 96 bytes and a heap block for
// any of them over 15 characters; this is 56, and fills the Subscription's make_shared block
// to exactly one 128-byte malloc chunk.
//
// Layout: raw_[55] is the tag: kHeap, or else the form is inline. Inline, the sid, subject
// and queue are raw_[0, 53) back to back, their lengths in raw_[55], raw_[53], raw_[54] (the
// sid's at most 53, so never kHeap). The sid comes first because delivery reads it for every
// message (it starts at raw_, no offset to add); the subject and queue are read on
// subscribe, unsubscribe and a cache miss. On the heap, raw_[0, 8) is the block's pointer
// (sid, subject, queue in that order) and raw_[8, 20) their lengths as uint32_t. Read and
// written with memcpy: plain loads and stores, no union to pun.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace pylon::server {

class SubNames {
 public:
  static constexpr size_t kInline = 53;  // subject + queue + sid, in bytes

  SubNames(std::string_view subject, std::string_view queue, std::string_view sid) {
    // Each length against what is left, not their sum, which could wrap: so the compiler
    // sees every inline copy bounded by raw_ too (GCC's -Warray-bounds did not).
    if (subject.size() <= kInline && queue.size() <= kInline - subject.size() &&
        sid.size() <= kInline - subject.size() - queue.size()) {
      auto* p = raw_;
      p = put(p, sid);
      p = put(p, subject);
      put(p, queue);
      raw_[kSubjectLen] = static_cast<unsigned char>(subject.size());
      raw_[kQueueLen] = static_cast<unsigned char>(queue.size());
      raw_[kSidLen] = static_cast<unsigned char>(sid.size());
      return;
    }
    const size_t total = subject.size() + queue.size() + sid.size();
    if (total > UINT32_MAX) throw std::length_error("SubNames: longer than 4 GiB");
    char* block = new char[total];
    auto* p = reinterpret_cast<unsigned char*>(block);
    p = put(p, sid);
    p = put(p, subject);
    put(p, queue);
    const uint32_t lens[3] = {static_cast<uint32_t>(sid.size()), static_cast<uint32_t>(subject.size()),
                              static_cast<uint32_t>(queue.size())};
    std::memcpy(raw_, &block, sizeof block);
    std::memcpy(raw_ + kHeapLens, lens, sizeof lens);
    raw_[kTag] = kHeap;
  }
  SubNames(const SubNames&) = delete;
  SubNames& operator=(const SubNames&) = delete;
  ~SubNames() {
    if (is_inline()) return;
    char* block;
    std::memcpy(&block, raw_, sizeof block);
    delete[] block;
  }

  bool is_inline() const noexcept { return raw_[kTag] != kHeap; }

  // Hot path (matching, delivery): one tag test, then a pointer and a length.
  std::string_view sid() const noexcept {
    if (is_inline()) return {chars(), raw_[kSidLen]};
    return {block(), heap_len(0)};
  }
  std::string_view subject() const noexcept {
    if (is_inline()) return {chars() + raw_[kSidLen], raw_[kSubjectLen]};
    return {block() + heap_len(0), heap_len(1)};
  }
  std::string_view queue() const noexcept {  // empty for a plain subscription
    if (is_inline()) return {chars() + raw_[kSidLen] + raw_[kSubjectLen], raw_[kQueueLen]};
    return {block() + heap_len(0) + heap_len(1), heap_len(2)};
  }

 private:
  static constexpr size_t kSubjectLen = 53, kQueueLen = 54, kSidLen = 55;
  static constexpr size_t kTag = 55;
  static constexpr size_t kHeapLens = 8;
  static constexpr unsigned char kHeap = 0xFF;

  static unsigned char* put(unsigned char* to, std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(to, s.data(), s.size());
    return to + s.size();
  }
  const char* chars() const noexcept { return reinterpret_cast<const char*>(raw_); }
  const char* block() const noexcept {
    const char* b;
    std::memcpy(&b, raw_, sizeof b);
    return b;
  }
  size_t heap_len(size_t i) const noexcept {
    uint32_t len;
    std::memcpy(&len, raw_ + kHeapLens + i * sizeof len, sizeof len);
    return len;
  }

  alignas(8) unsigned char raw_[56];
};

static_assert(sizeof(SubNames) == 56);
static_assert(SubNames::kInline < 0xFF, "an inline sid length must never read as the heap tag");

}  // namespace pylon::server
