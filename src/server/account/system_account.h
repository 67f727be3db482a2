// The system account: where the server speaks NATS itself, as nats-server 2.9 does
// (events.go). In the account named by `system_account` (default $SYS, created implicitly):
//  - events: $SYS.ACCOUNT.<acc>.CONNECT and .DISCONNECT when a client of an account other
//    than $G connects or leaves, and $SYS.SERVER.<id>.STATSZ, first 250 ms after the start and
//    then at doubling intervals up to every 30 s (the reference's startStatszTimer);
//  - requests, answered by every node of the cluster: $SYS.REQ.SERVER.PING (STATSZ) and
//    $SYS.REQ.SERVER.PING.<what>, and one node's $SYS.REQ.SERVER.<id>.<what>, for <what> in
//    STATSZ VARZ CONNZ SUBSZ ROUTEZ HEALTHZ ACCOUNTZ. A request's body carries the endpoint's
//    options as the reference's JSON (`{"limit":2,"subscriptions":true}`) and the filters
//    server_name, cluster, host, tags, domain; the answer is `{"server":{...},"data":{...}}`
//    (STATSZ: `{"server":{...},"statsz":{...}}`), or `{"server":{...},"error":{code,description}}`.
//    `data` is built by the same code as the HTTP endpoint's (monitor/endpoints.h). And the
//    account-scoped $SYS.REQ.ACCOUNT.<acc>.CONNZ and .SUBSZ (that account's connections and
//    subscriptions), answered by every node.
//
// The internal subscriptions are Subscription::internal (router.h) in the system account's
// index, announced to the routes like a client's, so a request published on any node, Pylon
// or nats-server, reaches this one, and the answer goes back on the requester's reply subject
// in the system account over the route that announced it.
//
// Threading: everything the system account publishes is sent from one loop, loop 0 (the
// "system loop"; the reference's internalSendLoop): events are posted there from the client's
// loop, requests from the publishing loop. So each message's `seq` is one more than the last,
// in the order the messages leave (a nats-server peer logs an error at an out-of-order STATSZ).
// The system loop's handler publishes through the router's entry point (route_message) with
// no origin connection, then flushes what it touched, as a read batch ends.
//
// Lifetime (docs/architecture.md, "Lifetimes"): the server owns it (Server::system_account(),
// from start() to its destruction). Posted handlers hold it strongly until they run; the
// internal subscriptions name it weakly (it owns them: no cycle). stop() (shutdown) cancels the
// timer and takes the subscriptions out of the index and the routes' interest, on the system
// loop, before the loops stop.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/monitor/conn_info.h"
#include "server/sub_index.h"

namespace pylon::server {

class Account;
class ClientConn;
class EventLoop;
class Server;

// What a $SYS.REQ.SERVER request asks for (the reference's names, the subject's last token).
enum class SysRequest { kStatsz, kVarz, kConnz, kSubsz, kRoutez, kHealthz, kAccountz };

class SystemAccount : public std::enable_shared_from_this<SystemAccount> {
 public:
  // The reference's eventsHBInterval, and the first STATSZ's delay (startStatszTimer).
  static constexpr std::chrono::milliseconds kStatszInterval{30'000};
  static constexpr std::chrono::milliseconds kStatszFirst{250};

  SystemAccount(Server& server, std::shared_ptr<Account> account);
  SystemAccount(const SystemAccount&) = delete;
  SystemAccount& operator=(const SystemAccount&) = delete;

  // Subscribes to the requests (announced to the routes) and starts the STATSZ timer. Once,
  // from Server::start(), before clients are accepted.
  void start();
  // Timer cancelled, subscriptions removed; events and requests after it are dropped.
  // Controlling thread (Server::shutdown), never the system loop; waits for the system loop.
  void stop();

  Account& account() const noexcept { return *account_; }

  // $SYS.ACCOUNT.<acc>.CONNECT: on the client's loop, after its first CONNECT was accepted.
  void client_connected(const ClientConn& c);
  // $SYS.ACCOUNT.<acc>.DISCONNECT: `closed` is the client's snapshot at its close (stop and
  // reason set). Any thread.
  void client_disconnected(const monitor::ConnSnapshot& closed);

  // A request reached one of our subscriptions (any loop): answered from the system loop.
  // `payload` holds the headers (header_len bytes, -1: none) and then the body. `account`:
  // the account an account-scoped request names ($SYS.REQ.ACCOUNT.<acc>.CONNZ), else empty.
  void request(SysRequest what, std::string_view account, std::string_view reply, std::string_view payload,
               int64_t header_len);

 private:
  EventLoop& system_loop() const;
  // System loop. Publishes `body` in the system account; its "server" member, when there
  // (put there by the caller where the reference's struct has it), gets the server block with
  // the next seq and the send time.
  void send(const std::string& subject, const std::string& reply, boost::json::object body);
  void post_send(std::string subject, boost::json::object body);
  boost::json::object server_info();
  boost::json::object statsz() const;
  boost::json::object statsz_message() const;  // {"server": (filled by send), "statsz": ...}
  std::string next_event_id();
  // System loop: one request, decoded, filtered, answered.
  void answer(SysRequest what, const std::string& account, std::string reply, std::string body);
  void answer_data(const std::string& reply, boost::json::object data);
  void answer_error(const std::string& reply, int code, const std::string& description, bool with_null_data);
  void arm_statsz_timer();

  Server& server_;
  const std::shared_ptr<Account> account_;
  std::atomic<bool> running_{false};
  // Set by start(); cleared by stop() on the system loop. Each holds its SystemSubscriber.
  std::vector<SubPtr> subs_;
  // System loop only.
  uint64_t seq_ = 0;
  uint64_t id_rng_ = 0;
  std::chrono::milliseconds statsz_every_ = kStatszFirst;
  std::unique_ptr<boost::asio::steady_timer> statsz_timer_;
};

}  // namespace pylon::server
