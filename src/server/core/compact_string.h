// An immutable string in 16 bytes: up to 15 characters inline, a longer one in one heap block
// of its exact size. Built once from a string_view and read as one.
//
// Memory at scale (docs/performance.md): the subscription trie keys every literal token with
// one of these, where a std::string costs 32 bytes; nearly every token of a real subject fits
// inline.
//
// Layout: raw_[15] is the tag: the inline length (0..15), or kHeap. Inline, the characters
// are raw_[0, length). On the heap, raw_[0, 8) holds the block's pointer and raw_[8, 12) its
// length (uint32_t). The fields are read and written with memcpy, which compiles to plain
// loads and stores, so there is no union to pun.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace pylon::server {

class CompactString {
 public:
  static constexpr size_t kInline = 15;

  CompactString() noexcept { raw_[kTag] = 0; }
  explicit CompactString(std::string_view s) {
    if (s.size() <= kInline) {
      if (!s.empty()) std::memcpy(raw_, s.data(), s.size());
      raw_[kTag] = static_cast<unsigned char>(s.size());
      return;
    }
    if (s.size() > UINT32_MAX) throw std::length_error("CompactString: longer than 4 GiB");
    char* block = new char[s.size()];
    std::memcpy(block, s.data(), s.size());
    const auto size = static_cast<uint32_t>(s.size());
    std::memcpy(raw_, &block, sizeof block);
    std::memcpy(raw_ + sizeof block, &size, sizeof size);
    raw_[kTag] = kHeap;
  }
  // The moved-from string is empty.
  CompactString(CompactString&& other) noexcept {
    std::memcpy(raw_, other.raw_, sizeof raw_);
    other.raw_[kTag] = 0;
  }
  CompactString& operator=(CompactString&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(raw_, other.raw_, sizeof raw_);
      other.raw_[kTag] = 0;
    }
    return *this;
  }
  CompactString(const CompactString&) = delete;
  CompactString& operator=(const CompactString&) = delete;
  ~CompactString() { release(); }

  bool is_inline() const noexcept { return raw_[kTag] != kHeap; }
  size_t size() const noexcept {
    if (is_inline()) return raw_[kTag];
    uint32_t size;
    std::memcpy(&size, raw_ + sizeof(char*), sizeof size);
    return size;
  }
  std::string_view view() const noexcept {
    if (is_inline()) return {reinterpret_cast<const char*>(raw_), raw_[kTag]};
    const char* block;
    std::memcpy(&block, raw_, sizeof block);
    return {block, size()};
  }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: reads as a string

  friend bool operator==(const CompactString& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const CompactString& a, const CompactString& b) noexcept {
    return a.view() == b.view();
  }

 private:
  static constexpr size_t kTag = 15;
  static constexpr unsigned char kHeap = 0xFF;

  void release() noexcept {
    if (is_inline()) return;
    char* block;
    std::memcpy(&block, raw_, sizeof block);
    delete[] block;
  }

  alignas(8) unsigned char raw_[16];
};

static_assert(sizeof(CompactString) == 16);

}  // namespace pylon::server
