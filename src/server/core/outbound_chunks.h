// Chunks of a connection's outbound bytes, and the process's pool of them.
//
// A connection's pending output is a list of chunks of about kChunkSize (connection.h), not one
// string that grows: a string that outgrows its capacity is copied whole into a new block,
// and for a subscriber that lags by megabytes that copy, and the page faults of every fresh
// block, cost more than the delivery itself (docs/performance.md, "CPU per message"). The
// reference keeps the same shape, a list of pooled buffers written with one writev.
//
// Chunks are filled on the delivering loops and emptied on the receiver's loop, so the pool
// is one small mutex-guarded stack shared by every loop: one lock per 64 KiB, not per message.
// It keeps at most kPoolChunks (what a few busy subscribers hold); the rest go back to malloc.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pylon::server::outbound {

inline constexpr size_t kChunkSize = 64 * 1024;
inline constexpr size_t kPoolChunks = 128;  // 8 MiB at most, kept for reuse

// An empty string whose capacity is at least kChunkSize: from the pool, else new. Any thread.
std::string take_chunk();
// Gives a chunk back (any thread): kept when it is of chunk size and the pool has room, else
// freed. Leaves `chunk` empty, without capacity.
void give_back(std::string& chunk);
// The same for each of `chunks`, under one lock; leaves the vector empty (its capacity kept).
void give_back(std::vector<std::string>& chunks);
// Chunks in the pool now (tests, monitoring).
size_t pooled();

}  // namespace pylon::server::outbound
