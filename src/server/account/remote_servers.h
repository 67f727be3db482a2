// The other servers the system account hears from, as the reference's s.sys.servers
// (events.go: updateRemoteServer, remoteServerShutdown, checkRemoteServers): a server is
// tracked from its first STATSZ (its `server.id` and `seq`), dropped at once when its
// $SYS.SERVER.<id>.SHUTDOWN arrives, and dropped as an orphan when nothing was heard from it
// for kOrphanMax (a server that died without a word). STATSZ's `active_servers` is this
// server plus the ones tracked, so a peer that shut down gracefully leaves the count at its
// SHUTDOWN, and one that crashed only after kOrphanMax, as on nats-server 2.9.
//
// Threading: the system loop only (no lock). No I/O: the caller publishes and logs what the
// results say, so the rules are unit-tested alone (tests/unit/remote_servers_test.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pylon::server {

class RemoteServers {
 public:
  using Clock = std::chrono::steady_clock;
  // The reference's orphMax (5 x eventsHBInterval) and chkOrph (3 x eventsHBInterval).
  static constexpr std::chrono::seconds kOrphanMax{150};
  static constexpr std::chrono::seconds kOrphanCheck{90};

  enum class Update {
    kNew,         // first heard of: the reference answers with its own STATSZ at once
    kUpdated,
    kOutOfOrder,  // seq not above the last one: ignored, logged as an error by the caller
  };
  // A STATSZ (or other event carrying ServerInfo) from server `id` with `seq`.
  Update heard(std::string_view id, uint64_t seq, Clock::time_point now);
  // A SHUTDOWN from `id`: true when it was tracked (and is no more).
  bool shutdown(std::string_view id);
  // Drops the servers not heard from for kOrphanMax; returns their ids.
  std::vector<std::string> sweep(Clock::time_point now);

  size_t size() const noexcept { return servers_.size(); }
  bool tracks(std::string_view id) const { return servers_.count(std::string(id)) != 0; }

 private:
  struct Server {
    uint64_t seq = 0;
    Clock::time_point last;
  };
  std::unordered_map<std::string, Server> servers_;
};

}  // namespace pylon::server
