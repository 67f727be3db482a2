// Message routing: given a published message, find the interested subscriptions and
// deliver it — every plain subscriber once, one member of each queue group — appending to
// receivers' outbound buffers and touching them for the end-of-batch flush.
//
// Hot path: one index lookup (usually a cache hit), then per receiver one small locked
// append. The payload is copied once, into the receiver's outbound buffer.
#pragma once

#include <string_view>

namespace pylon::server {

class Connection;
class EventLoop;
class Server;

struct Message {
  std::string_view subject;
  std::string_view reply;
  int64_t header_len = -1;   // -1: no headers
  std::string_view payload;  // headers then body
};

// Where a message came from, for echo suppression.
struct Origin {
  Connection* conn = nullptr;  // the publishing connection
  bool echo = true;            // false: never deliver to origin's own subscriptions
};

// Delivers `msg` to local subscribers. Runs on `loop` (the origin's loop).
// Returns true when at least one subscriber was given the message.
bool route_message(Server& server, EventLoop& loop, const Origin& origin, const Message& msg);

}  // namespace pylon::server
