// The pool of outbound chunks (src/server/core/outbound_chunks.h): what it hands out, what it
// keeps, and its bound.
#include "server/core/outbound_chunks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pylon::server::outbound {
namespace {

// Empties the pool (the tests share the process's one pool).
void drain() {
  std::vector<std::string> held;
  while (pooled() > 0) held.push_back(take_chunk());
}

TEST(OutboundChunks, AChunkIsEmptyWithRoomForAWholeChunk) {
  drain();
  std::string c = take_chunk();
  EXPECT_TRUE(c.empty());
  EXPECT_GE(c.capacity(), kChunkSize);
}

TEST(OutboundChunks, AChunkGivenBackIsHandedOutAgainEmptyWithItsMemory) {
  drain();
  std::string c = take_chunk();
  c.append(1000, 'x');
  const char* memory = c.data();
  give_back(c);
  EXPECT_EQ(c.capacity(), std::string().capacity()) << "the caller keeps nothing of it";
  EXPECT_EQ(pooled(), 1u);
  std::string again = take_chunk();
  EXPECT_EQ(again.data(), memory) << "the same block, not a new one";
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(pooled(), 0u);
}

TEST(OutboundChunks, OnlyChunkSizedBuffersAreKept) {
  drain();
  std::string small = "a small INFO";
  small.reserve(512);
  give_back(small);
  std::string huge;
  huge.reserve(4 * kChunkSize);  // one large message's own block
  give_back(huge);
  EXPECT_EQ(pooled(), 0u);
  EXPECT_TRUE(small.empty());
  EXPECT_TRUE(huge.empty());
}

TEST(OutboundChunks, ThePoolKeepsAtMostItsBoundAndFreesTheRest) {
  drain();
  std::vector<std::string> chunks;
  for (size_t i = 0; i < kPoolChunks + 10; ++i) chunks.push_back(take_chunk());
  give_back(chunks);
  EXPECT_TRUE(chunks.empty());
  EXPECT_EQ(pooled(), kPoolChunks);
  std::string extra;
  extra.reserve(kChunkSize);
  give_back(extra);  // the pool is full: this one is freed
  EXPECT_EQ(pooled(), kPoolChunks);
  EXPECT_EQ(extra.capacity(), std::string().capacity());
  drain();
}

}  // namespace
}  // namespace pylon::server::outbound
