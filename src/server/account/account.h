// Accounts: the isolation unit of NATS 2.x. Each account has its own subject space — its own
// subscription index, with its own match cache — so a message published in one account is
// matched only against that account's subscriptions (and, over routes, carried with the
// account's name: RS+/RS-/RMSG).
//
// Ownership and lifetime (docs/architecture.md, "Lifetimes"):
// - `Accounts` (the server's registry) owns every account by shared_ptr, from the config that
//   names it until the server ends. `$G` always exists and never moves.
// - A client holds a strong reference to the account it is bound to, from CONNECT to its
//   destruction, so an account a reload drops from the registry lives on while any client
//   bound to it (or any match result naming such a client's subscriptions) exists.
// - A route holds, for each remote interest it inserted, a strong reference to that account.
// - A client's account is bound at most once (at CONNECT, before it can subscribe) and never
//   changes afterwards; a reload that would move a user to another account closes the client
//   instead (as the reference's clientHasMovedToDifferentAccount). So the index a subscription
//   was inserted into is always its owner's current account's index.
//
// Threading: the registry's map is guarded by its own reader/writer lock (taken on CONNECT, on
// a route's RS+/RS- and on a route message for an account other than $G — never per message
// of a client); an Account's index has its own lock (sub_index.h); counters are atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pylon/options.h"
#include "server/account/stream_import.h"
#include "server/sub_index.h"

namespace pylon::server {

class Server;

// The system account's services every other account imports, as the reference's
// registerSystemImports: a client of account A asking `subject` gets, from every server, the
// answer to $SYS.REQ.ACCOUNT.A.<request> (Streamed: one response per server). The system
// account exports `$SYS.REQ.ACCOUNT.*.<request>` for them (its addSystemAccountExports).
struct SystemImport {
  const char* subject;
  const char* request;
};
inline constexpr SystemImport kSystemImports[] = {{"$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ"},
                                                  {"$SYS.REQ.SERVER.PING.CONNZ", "CONNZ"},
                                                  {"$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ"}};
inline constexpr const char* kSystemExports[] = {"$SYS.REQ.ACCOUNT.*.CONNZ", "$SYS.REQ.ACCOUNT.*.STATZ"};

class Account : public std::enable_shared_from_this<Account> {
 public:
  Account(std::string name, size_t cache_max = 1024);
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  const std::string& name() const noexcept { return name_; }
  bool is_global() const noexcept { return global_; }
  SubIndex& index() noexcept { return index_; }
  const SubIndex& index() const noexcept { return index_; }

  // Clients bound to this account (on CONNECT; released when they close). Any thread.
  void client_bound() noexcept { clients_.fetch_add(1, std::memory_order_relaxed); }
  void client_released() noexcept { clients_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t num_clients() const noexcept { return clients_.load(std::memory_order_relaxed); }

  // Monitoring (/accstatz): what closed clients of this account published and received
  // (open ones are summed from their own counters when asked, so no message pays for an
  // account-wide counter), and how many were cut as slow consumers. Any thread.
  struct Totals {
    uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  };
  void add_closed_client(const Totals& t) noexcept {
    closed_in_msgs_.fetch_add(t.in_msgs, std::memory_order_relaxed);
    closed_in_bytes_.fetch_add(t.in_bytes, std::memory_order_relaxed);
    closed_out_msgs_.fetch_add(t.out_msgs, std::memory_order_relaxed);
    closed_out_bytes_.fetch_add(t.out_bytes, std::memory_order_relaxed);
  }
  Totals closed_client_totals() const noexcept {
    return Totals{closed_in_msgs_.load(std::memory_order_relaxed), closed_in_bytes_.load(std::memory_order_relaxed),
                  closed_out_msgs_.load(std::memory_order_relaxed), closed_out_bytes_.load(std::memory_order_relaxed)};
  }
  void count_slow_consumer() noexcept { slow_consumers_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t slow_consumers() const noexcept { return slow_consumers_.load(std::memory_order_relaxed); }

  // Service imports (account/service_import.h). add_response: a request crossing into this
  // (the exporting) account gets a new reply subject of ours, answered into `importer` on
  // `reply`; the first call makes our response subscription ("_R_.<prefix>.>") and announces
  // it to the routes. take_response: where a response to one of those subjects goes (importer
  // null when unknown or expired). Any loop.
  std::string add_response(Server& server, const std::shared_ptr<Account>& importer, std::string_view reply,
                           AccountExport::ResponseType type, Duration threshold);
  struct ResponseTarget {
    std::shared_ptr<Account> importer;
    std::string reply;
  };
  // `last`: this response ends the mapping whatever the response type (the reference's
  // EOF: an empty message, no headers, ends a Streamed or Chunked response as well).
  ResponseTarget take_response(std::string_view subject, bool last = false);
  // The response to `subject` could not be delivered (the requester has gone): no more go
  // back, as the reference removes a response import that delivered nothing.
  void drop_response(std::string_view subject);
  size_t pending_responses() const;

  // This account's stream imports (set by Accounts::configure). Read on SUB, never per message.
  std::shared_ptr<const std::vector<StreamImport>> stream_imports() const;
  void set_stream_imports(std::vector<StreamImport> imports);

 private:
  const std::string name_;
  const bool global_;
  SubIndex index_;
  std::atomic<int64_t> clients_{0};
  std::atomic<uint64_t> closed_in_msgs_{0}, closed_in_bytes_{0}, closed_out_msgs_{0}, closed_out_bytes_{0};
  std::atomic<uint64_t> slow_consumers_{0};
  struct PendingResponse {
    std::weak_ptr<Account> importer;
    std::string reply;
    AccountExport::ResponseType type;
    Duration threshold;
    std::chrono::steady_clock::time_point expires;
  };
  mutable std::mutex resp_mu_;  // -> SubIndex lock, -> Cluster::mu_ (the first add_response)
  std::string resp_prefix_;     // "_R_.<random>."; guarded by resp_mu_, set with resp_sub_
  SubPtr resp_sub_;             // guarded by resp_mu_
  std::unordered_map<std::string, PendingResponse> responses_;  // guarded by resp_mu_
  uint64_t resp_rng_ = 0;       // guarded by resp_mu_
  mutable std::mutex imports_mu_;
  std::shared_ptr<const std::vector<StreamImport>> stream_imports_;  // guarded by imports_mu_; null: none
  // Internal subscriptions of this account's service imports (set once, by Accounts::configure
  // under its lock; kept so the index's entries have an owner).
  std::vector<SubPtr> service_subs_;
  // Its imports of the system account's services (kSystemImports), made once by the first
  // configure() that sees it (the system account cannot change on a reload).
  std::vector<SubPtr> system_import_subs_;
  friend class Accounts;
};

class Accounts {
 public:
  Accounts();

  // $G: always there, same object for the server's life (no lookup on the client path).
  Account& global() noexcept { return *global_; }
  const std::shared_ptr<Account>& global_ref() const noexcept { return global_; }

  // The account by name ("$G" included); null when not configured. Any thread.
  std::shared_ptr<Account> find(std::string_view name) const;
  // Every registered account, $G first. Any thread.
  std::vector<std::shared_ptr<Account>> all() const;

  // Registers every account `o` configures that is not registered yet (start and reload), and
  // sets each account's imports (a service import is an internal subscription in its index).
  // An account a reload no longer configures is unregistered: new clients and routes cannot
  // reach it, while the clients still bound to it keep it alive (see the header comment).
  void configure(const Options& o);
  // Bumped by every configure() that unregistered or registered an account: whoever caches a
  // lookup (a route, for its last account) compares it to know the cache is still right.
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  const std::shared_ptr<Account> global_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Account>, Hash, std::equal_to<>> by_name_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};
};

}  // namespace pylon::server
