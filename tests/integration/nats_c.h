// Small RAII helpers around the official C client (libnats) for the integration tests.
#pragma once

#include <nats/nats.h>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it {

struct NatsConnDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct NatsSubDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct NatsMsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct NatsOptsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
using NatsConn = std::unique_ptr<natsConnection, NatsConnDeleter>;
using NatsSub = std::unique_ptr<natsSubscription, NatsSubDeleter>;
using NatsMsg = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using NatsOpts = std::unique_ptr<natsOptions, NatsOptsDeleter>;

inline std::string status_text(natsStatus s) {
  std::string out = natsStatus_GetText(s);
  natsStatus ignored;
  if (const char* last = nats_GetLastError(&ignored); last && *last) out += std::string(" (") + last + ")";
  return out;
}

// Connects to `url` with reconnection disabled (so failures surface). `tweak` may adjust
// options; `status` receives the result. Returns null on failure.
inline NatsConn nats_connect(const std::string& url,
                             const std::function<void(natsOptions*)>& tweak = {},
                             natsStatus* status = nullptr) {
  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  NatsOpts opts(raw);
  if (s == NATS_OK) s = natsOptions_SetURL(raw, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(raw, false);
  if (s == NATS_OK) s = natsOptions_SetTimeout(raw, 5000);
  if (s == NATS_OK && tweak) tweak(raw);
  natsConnection* nc = nullptr;
  if (s == NATS_OK) s = natsConnection_Connect(&nc, raw);
  if (status) *status = s;
  if (s != NATS_OK) {
    if (!status) ADD_FAILURE() << "connect to " << url << " failed: " << status_text(s);
    return nullptr;
  }
  return NatsConn(nc);
}

inline NatsSub sub_sync(natsConnection* nc, const std::string& subject, const std::string& queue = "") {
  natsSubscription* sub = nullptr;
  natsStatus s = queue.empty() ? natsConnection_SubscribeSync(&sub, nc, subject.c_str())
                               : natsConnection_QueueSubscribeSync(&sub, nc, subject.c_str(), queue.c_str());
  EXPECT_EQ(s, NATS_OK) << "subscribe " << subject << ": " << status_text(s);
  if (s == NATS_OK) natsSubscription_SetPendingLimits(sub, 1'000'000, 1'000'000'000);
  return NatsSub(s == NATS_OK ? sub : nullptr);
}

struct RecvMsg {
  std::string subject, reply, data;
};

inline RecvMsg to_recv(natsMsg* m) {
  RecvMsg r;
  r.subject = natsMsg_GetSubject(m);
  if (const char* rp = natsMsg_GetReply(m)) r.reply = rp;
  r.data.assign(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  return r;
}

inline bool flush(natsConnection* nc) {
  natsStatus s = natsConnection_FlushTimeout(nc, 10000);
  EXPECT_EQ(s, NATS_OK) << "flush: " << status_text(s);
  return s == NATS_OK;
}

// After the publisher's flush and then the subscriber connection's flush, every message
// the server routed to a sync subscription is already queued in it (the server writes
// them before that connection's PONG): take exactly those.
inline std::vector<RecvMsg> drain(natsSubscription* sub) {
  std::vector<RecvMsg> out;
  int msgs = 0, bytes = 0;
  natsSubscription_GetPending(sub, &msgs, &bytes);
  for (int i = 0; i < msgs; ++i) {
    natsMsg* m = nullptr;
    natsStatus s = natsSubscription_NextMsg(&m, sub, 5000);
    if (s != NATS_OK) {
      ADD_FAILURE() << "NextMsg: " << status_text(s);
      break;
    }
    out.push_back(to_recv(m));
    natsMsg_Destroy(m);
  }
  return out;
}

}  // namespace pylon::it
