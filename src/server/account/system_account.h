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
//    `data` is built by the same code as the HTTP endpoint's (monitor/endpoints.h). JSZ and
//    GATEWAYZ answer as 2.9 does with JetStream and gateways off. And the account-scoped
//    $SYS.REQ.ACCOUNT.<acc>.CONNZ, .SUBSZ, .INFO, .STATZ, .CONNS and .JSZ, and
//    $SYS.REQ.ACCOUNT.PING.STATZ, answered by every node;
//  - account_connections: $SYS.ACCOUNT.<acc>.SERVER.CONNS (and the old
//    $SYS.SERVER.ACCOUNT.<acc>.CONNS) when an account's client count changes, every 30 s while
//    it has clients, and in answer to .CONNS;
//  - $SYS.SERVER.<id>.SHUTDOWN when the server shuts down, before its connections close; the
//    other servers' STATSZ and SHUTDOWN are heard (RemoteServers), so `active_servers` counts
//    the servers heard from and drops one that shut down at once.
// Every account but the system account imports $SYS.REQ.ACCOUNT.PING.CONNZ,
// $SYS.REQ.SERVER.PING.CONNZ and $SYS.REQ.ACCOUNT.PING.STATZ from it, mapped to its own
// account-scoped request, as the reference's registerSystemImports (Accounts::configure).
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
// from start() to its destruction). Posted handlers and timers' handlers hold it strongly until
// they run; the internal subscriptions name it weakly (it owns them: no cycle); a heartbeat
// names its account weakly. stop() (shutdown) cancels the timers and takes the subscriptions
// out of the index and the routes' interest, on the system loop, before the loops stop.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/account/remote_servers.h"
#include "server/account/sys_request_options.h"
#include "server/monitor/conn_info.h"
#include "server/sub_index.h"

namespace pylon::server {

class Account;
class ClientConn;
class EventLoop;
class Server;

class SystemAccount : public std::enable_shared_from_this<SystemAccount> {
 public:
  // The reference's eventsHBInterval, and the first STATSZ's delay (startStatszTimer).
  static constexpr std::chrono::milliseconds kStatszInterval{30'000};
  static constexpr std::chrono::milliseconds kStatszFirst{250};
  // An account's account_connections heartbeat while it has clients (eventsHBInterval too).
  static constexpr std::chrono::milliseconds kAccountConnsInterval{30'000};
  // How long stop() lets the SHUTDOWN event drain to the routes and clients before they
  // close (the reference flushes it in place for up to a second).
  static constexpr std::chrono::milliseconds kShutdownFlush{1'000};

  SystemAccount(Server& server, std::shared_ptr<Account> account);
  SystemAccount(const SystemAccount&) = delete;
  SystemAccount& operator=(const SystemAccount&) = delete;

  // Subscribes to the requests (announced to the routes) and starts the STATSZ timer. Once,
  // from Server::start(), before clients are accepted.
  void start();
  // Publishes $SYS.SERVER.<id>.SHUTDOWN and lets it drain (kShutdownFlush at most), then
  // cancels the timers and removes the subscriptions; events and requests after it are
  // dropped. Controlling thread (Server::shutdown), never the system loop; waits for it.
  void stop();

  Account& account() const noexcept { return *account_; }

  // $SYS.ACCOUNT.<acc>.CONNECT: on the client's loop, after its first CONNECT was accepted.
  void client_connected(const ClientConn& c);
  // $SYS.ACCOUNT.<acc>.DISCONNECT: `closed` is the client's snapshot at its close (stop and
  // reason set). Any thread.
  void client_disconnected(const monitor::ConnSnapshot& closed);

  // An account's client count changed: a client was bound to it (any account, $G too, as the
  // reference's addClient) or released (not $G, as its removeClient). Any thread; the
  // account_connections event goes out from the system loop.
  void account_connections_changed(std::shared_ptr<Account> account);

  // Another server's $SYS.SERVER.<id>.STATSZ or .SHUTDOWN reached us (any loop).
  void remote_event(bool shutdown, std::string_view subject, std::string_view payload, int64_t header_len);

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
  void arm_orphan_timer();
  // System loop: the AccountNumConns event of `account`, to each of `subjects`, and its
  // heartbeat re-armed (or cancelled when the account has no clients). `conns`: the client
  // count to report (-1: the account's count now); the message counts are read now.
  void send_account_conns(const std::shared_ptr<Account>& account, const std::vector<std::string>& subjects,
                          int64_t conns = -1);
  void answer_conns(const std::string& account, const std::string& reply, const std::string& body);
  // False when nobody (here or over a route) is interested in `subject` in the system account.
  bool has_interest(const std::string& subject) const;

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
  std::unique_ptr<boost::asio::steady_timer> orphan_timer_;
  RemoteServers remote_;
  // Per account name: its account_connections heartbeat, while it has clients.
  struct ConnsHeartbeat {
    std::weak_ptr<Account> account;  // weak: a reload may drop the account
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  std::unordered_map<std::string, ConnsHeartbeat> conns_heartbeats_;
};

}  // namespace pylon::server
