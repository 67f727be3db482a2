// The messages of one read on their way from the I/O strand to the callback strand.
//
// Hot path of a subscriber: the I/O strand fills a batch while parsing one read and posts
// it once (or appends it to the batch still waiting for the callback strand, when the
// callbacks lag: Core::flush_callback_batch); the callback strand runs the handlers and
// hands the batch back for reuse. A
// recycled batch keeps its Message objects and their strings' capacity, so a warm
// subscriber copies each message into memory it already owns (no allocation per message),
// and the batch's vector never regrows. Items hold a plain SubState*: `subs` owns one
// reference per subscription in the batch, so no reference count moves per message.
// Pending counts (SubState::pending_*) are raised once per subscription and batch on the
// I/O strand and lowered once when the batch's handlers are done.
//
// A batch is bounded in messages and in body bytes (kKeepItems, kMaxBytes), and a recycled
// batch keeps the capacity of every body up to kKeepBodyBytes, a bound above what a
// joined batch can hold: so a warm subscriber of 1 KiB messages copies each body into a
// string it already owns. (Bounded in messages only, a 1 MiB read of 1 KiB messages made
// one batch of 1,000 bodies, half of them freed on the way back and allocated again on
// the next read: malloc, heap growth and page faults were a third of the subscriber's
// CPU, docs/performance.md.)
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "client/sub_state.h"
#include "pylon/message.h"

namespace pylon::client {

struct DeliveryBatch {
  struct Item {
    SubState* sub = nullptr;
    Message msg;
  };
  struct PerSub {
    std::shared_ptr<SubState> sub;
    int64_t msgs = 0, bytes = 0;
  };
  std::vector<Item> items;  // items[0, size) are in use; the rest are spares
  size_t size = 0;
  size_t bytes = 0;         // the bodies' (payloads') bytes of items[0, size)
  std::vector<PerSub> subs;
};

// Batches handed back by the callback strand, for the I/O strand to fill again.
class DeliveryBatchPool {
 public:
  // Also the most messages one batch takes (Core::flush_callback_batch joins up to it),
  // so a recycled batch is never trimmed in steady state.
  static constexpr size_t kKeepItems = 8192;
  // The I/O strand hands a batch over once its bodies reach this many bytes (a message
  // larger than this goes alone), and joins batches waiting for the callback strand up to
  // kMaxJoinedBytes: per hand-off that is still hundreds of 1 KiB messages.
  static constexpr size_t kMaxBytes = 256 * 1024;
  static constexpr size_t kMaxJoinedBytes = 1024 * 1024;

  std::unique_ptr<DeliveryBatch> take() {
    {
      std::lock_guard lk(mu_);
      if (!spare_.empty()) {
        auto b = std::move(spare_.back());
        spare_.pop_back();
        return b;
      }
    }
    return std::make_unique<DeliveryBatch>();
  }

  // Keeps a bounded amount of memory (under 8 MB in all, only after a burst kept that
  // many batches in flight): a few batches, each trimmed to kKeepItems messages whose
  // bodies keep at most kKeepBodyBytes of capacity together (a joined batch's bodies fit,
  // unless one large message's string grew beyond it: that one goes).
  void give_back(std::unique_ptr<DeliveryBatch> b) {
    {
      std::lock_guard lk(mu_);
      if (spare_.size() >= kKeepBatches) return;  // freed here, outside the lock
    }
    b->size = 0;
    b->bytes = 0;
    b->subs.clear();
    if (b->items.size() > kKeepItems) b->items.resize(kKeepItems);
    size_t kept = 0;
    for (auto& it : b->items) {
      it.sub = nullptr;
      kept += it.msg.data.capacity();
      if (kept > kKeepBodyBytes) std::string().swap(it.msg.data);
    }
    std::lock_guard lk(mu_);
    spare_.push_back(std::move(b));
  }

 private:
  static constexpr size_t kKeepBatches = 4;
  static constexpr size_t kKeepBodyBytes = kMaxJoinedBytes + kMaxBytes;
  std::mutex mu_;
  std::vector<std::unique_ptr<DeliveryBatch>> spare_;
};

}  // namespace pylon::client
