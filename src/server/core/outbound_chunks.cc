#include "server/core/outbound_chunks.h"

#include <mutex>

namespace pylon::server::outbound {

namespace {

struct Pool {
  std::mutex mu;
  std::vector<std::string> chunks;  // guarded by mu; each empty with capacity kChunkSize..2x
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: loops may give back during static destruction
  return *p;
}

// A chunk worth keeping: the size take_chunk makes (a string grown past it for one large
// message is freed, so the pool never holds more than kPoolChunks * 2 * kChunkSize).
bool poolable(const std::string& s) { return s.capacity() >= kChunkSize && s.capacity() <= 2 * kChunkSize; }

}  // namespace

std::string take_chunk() {
  {
    Pool& p = pool();
    std::lock_guard lk(p.mu);
    if (!p.chunks.empty()) {
      std::string s = std::move(p.chunks.back());
      p.chunks.pop_back();
      return s;
    }
  }
  std::string s;
  s.reserve(kChunkSize);
  return s;
}

void give_back(std::string& chunk) {
  if (poolable(chunk)) {
    chunk.clear();
    Pool& p = pool();
    std::unique_lock lk(p.mu);
    if (p.chunks.size() < kPoolChunks) {
      p.chunks.push_back(std::move(chunk));
      chunk = std::string();
      return;
    }
  }
  std::string().swap(chunk);  // freed outside the pool's lock
}

void give_back(std::vector<std::string>& chunks) {
  if (chunks.empty()) return;
  {
    Pool& p = pool();
    std::lock_guard lk(p.mu);
    for (auto& c : chunks) {
      if (p.chunks.size() >= kPoolChunks) break;
      if (!poolable(c)) continue;
      c.clear();
      p.chunks.push_back(std::move(c));
    }
  }
  chunks.clear();  // what the pool did not take is freed here, outside its lock
}

size_t pooled() {
  Pool& p = pool();
  std::lock_guard lk(p.mu);
  return p.chunks.size();
}

}  // namespace pylon::server::outbound
