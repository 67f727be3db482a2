// Cluster's interest propagation (cluster.h): RS+/RS- to every route as local interest
// changes, in the order of the changes, and the whole interest sent to a new route in chunks
// on that route's loop, with the changes made meanwhile queued behind the last chunk.
#include <boost/asio/post.hpp>

#include "proto/writer.h"
#include "server/account/account.h"
#include "server/core/event_loop.h"
#include "server/route/cluster.h"
#include "server/route/route_conn.h"
#include "server/server.h"
#include "server/sub_index.h"

namespace pylon::server {

namespace asio = boost::asio;

void Cluster::local_sub_added(const Account& account, const Subscription& sub) {
  interest_changed(account, sub.subject(), sub.queue(), 1);
}

void Cluster::local_sub_removed(const Account& account, const Subscription& sub) {
  interest_changed(account, sub.subject(), sub.queue(), -1);
}

void Cluster::interest_changed(const Account& account, std::string_view subject, std::string_view queue, int delta) {
  if (!enabled_ || delta == 0) return;
  std::string key = account.name() + " " + std::string(subject);
  if (!queue.empty()) key += " " + std::string(queue);
  std::string line;
  std::lock_guard lk(mu_);
  auto [it, fresh] = interest_.try_emplace(std::move(key), 0);
  const int before = it->second;
  const int n = before + delta;
  if (n <= 0) {
    interest_.erase(it);
    if (before > 0) proto::append_rs_unsub(line, account.name(), subject, queue);
  } else {
    it->second = n;
    if (!queue.empty()) {
      proto::append_rs_sub(line, account.name(), subject, queue, n);
    } else if (before <= 0) {
      proto::append_rs_sub(line, account.name(), subject, {}, 0);
    }
  }
  if (!line.empty()) broadcast(line);
}

// mu_ held: the order of interest updates on each route must follow the order of changes.
void Cluster::broadcast(const std::string& bytes, const RouteConn* except) {
  for (auto& [id, r] : by_id_) {
    if (r.get() == except) continue;
    if (auto t = sync_tails_.find(r.get()); t != sync_tails_.end()) {
      t->second += bytes;  // after the sync's last chunk
      continue;
    }
    if (r->enqueue(bytes)) r->flush_signal();
  }
}

namespace {
// Interest entries per chunk of a sync: about 128 KiB of RS+ lines, formatted in well under a
// millisecond, so a publisher on the route's loop waits no longer than that between chunks.
constexpr size_t kInterestSyncChunk = 4096;

// "<account> <subject>[ <queue>]" (an interest_ key) as an RS+ line.
void append_interest(std::string& buf, std::string_view key, int n) {
  auto sp = key.find(' ');
  std::string_view account = key.substr(0, sp), rest = key.substr(sp + 1);
  auto sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos) {
    proto::append_rs_sub(buf, account, rest, {}, 0);
  } else {
    proto::append_rs_sub(buf, account, rest.substr(0, sp2), rest.substr(sp2 + 1), n);
  }
}
}  // namespace

// A snapshot of our interest on its way to one route, chunk by chunk on the route's loop.
struct Cluster::InterestSync {
  std::vector<std::pair<std::string, int>> entries;
  size_t next = 0;
};

void Cluster::send_local_interest(const std::shared_ptr<RouteConn>& r) {
  auto sync = std::make_shared<InterestSync>();
  {
    std::lock_guard lk(mu_);
    if (interest_.size() <= kInterestSyncChunk) {
      // Small: at once, as one write.
      std::string buf;
      for (const auto& [key, n] : interest_) append_interest(buf, key, n);
      if (!buf.empty() && r->enqueue(buf)) r->flush_signal();
      return;
    }
    // Large (a million subscriptions is a 40 MB burst of RS+): only the copy is made under
    // mu_; formatting and queueing go chunk by chunk, each its own handler on the route's loop,
    // so the loop's other connections (publishers) run between chunks, and SUBs on other
    // loops wait for the copy only.
    sync->entries.reserve(interest_.size());
    for (const auto& [key, n] : interest_) sync->entries.emplace_back(key, n);
    sync_tails_[r.get()];
  }
  server_.log().debugf("{} - Sending {} interest entries in chunks of {}", r->log_prefix(), sync->entries.size(),
                       kInterestSyncChunk);
  asio::post(r->loop().ctx(), [this, r, sync]() mutable { send_interest_chunk(std::move(r), std::move(sync)); });
}

void Cluster::send_interest_chunk(std::shared_ptr<RouteConn> r, std::shared_ptr<InterestSync> sync) {
  if (r->closing()) return;  // route_closed drops the tail
  std::string buf;
  const size_t end = std::min(sync->entries.size(), sync->next + kInterestSyncChunk);
  for (; sync->next < end; ++sync->next) {
    append_interest(buf, sync->entries[sync->next].first, sync->entries[sync->next].second);
  }
  if (sync->next < sync->entries.size()) {
    if (r->enqueue(buf)) r->flush_signal();
    auto& ctx = r->loop().ctx();
    asio::post(ctx, [this, r = std::move(r), sync = std::move(sync)]() mutable {
      send_interest_chunk(std::move(r), std::move(sync));
    });
    return;
  }
  // The last chunk and the changes made since the snapshot, in one step under mu_: a change
  // made after it goes straight to the route (broadcast), behind them.
  std::lock_guard lk(mu_);
  if (auto t = sync_tails_.find(r.get()); t != sync_tails_.end()) {
    buf += t->second;
    sync_tails_.erase(t);
  }
  if (!buf.empty() && r->enqueue(buf)) r->flush_signal();
}

}  // namespace pylon::server
