// A client connection: the NATS client protocol on top of the connection core.
//
// Parses CONNECT/PUB/HPUB/SUB/UNSUB/PING/PONG, enforces auth, limits and the ping
// keepalive, and delivers published messages to matching subscriptions. Delivery into
// another connection only appends to its outbound buffer (Connection::enqueue_with) and
// touches it for the end-of-batch flush: a publisher never waits on a subscriber.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

#include "proto/parser.h"
#include "server/connection.h"
#include "server/sub_index.h"

namespace pylon::server {

class ClientConn final : public Connection, private proto::ParserHandler {
 public:
  ClientConn(Server& server, EventLoop& loop, boost::asio::ip::tcp::socket socket, uint64_t cid);
  ~ClientConn() override;

  // What the client announced in CONNECT (read by other loops when delivering: these
  // are written once on the owning loop before any subscription exists).
  bool headers() const noexcept { return headers_; }
  bool echo() const noexcept { return echo_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& lang() const noexcept { return lang_; }
  const std::string& version() const noexcept { return version_; }
  size_t num_subs() const;

  // Delivers one message to `sub` (owned by this client). Called from any loop.
  // Returns true when the message was queued.
  bool deliver(Subscription& sub, std::string_view subject, std::string_view reply, int64_t header_len,
               std::string_view payload);

  // Removes a subscription that reached its auto-unsubscribe limit. Any thread.
  void expire_subscription(const SubPtr& sub);

 private:
  // Connection
  void on_start() override;
  bool on_read(std::string_view data) override;
  void on_closing() override;
  void on_closed(CloseReason reason) override;

  // proto::ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override { return true; }
  bool on_err(std::string_view) override { return true; }
  bool on_pub(const proto::MsgArgs& args, std::string_view payload) override;
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool on_unsub(std::string_view sid, int64_t max_msgs) override;

  // Sends -ERR '<text>'; when `reason` is set, closes after it is written.
  void send_err(std::string_view text);
  void send_err_and_close(std::string_view text, CloseReason reason);
  void send_ok();
  void queue_self(std::string_view bytes);
  // True when an operation other than CONNECT may run; else it is an auth violation.
  bool check_connected();
  void auth_violation();
  bool authenticate(std::string_view user, std::string_view pass, std::string_view token) const;
  void schedule_ping();
  void on_ping_timer();
  void remove_subscription_locked(std::unordered_map<std::string, SubPtr>::iterator it);
  void send_no_responders(std::string_view reply);
  std::string trace_prefix() const;

  proto::Parser parser_;
  boost::asio::steady_timer auth_timer_;
  boost::asio::steady_timer ping_timer_;
  int pings_out_ = 0;

  // CONNECT state.
  bool connect_received_ = false;
  bool verbose_ = false;
  bool pedantic_ = false;
  bool echo_ = true;
  bool headers_ = false;
  bool no_responders_ = false;
  int protocol_ = 0;
  std::string name_, lang_, version_;

  mutable std::mutex subs_mu_;
  std::unordered_map<std::string, SubPtr> subs_;  // by sid
};

}  // namespace pylon::server
