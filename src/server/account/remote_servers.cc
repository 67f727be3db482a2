#include "server/account/remote_servers.h"

namespace pylon::server {

RemoteServers::Update RemoteServers::heard(std::string_view id, uint64_t seq, Clock::time_point now) {
  auto [it, fresh] = servers_.try_emplace(std::string(id));
  if (fresh) {
    it->second = Server{seq, now};
    return Update::kNew;
  }
  // A server's seq grows with every message it sends, so an old one is a replay or reordering.
  if (seq <= it->second.seq) return Update::kOutOfOrder;
  it->second = Server{seq, now};
  return Update::kUpdated;
}

bool RemoteServers::shutdown(std::string_view id) { return servers_.erase(std::string(id)) != 0; }

std::vector<std::string> RemoteServers::sweep(Clock::time_point now) {
  std::vector<std::string> gone;
  for (auto it = servers_.begin(); it != servers_.end();) {
    if (now - it->second.last > kOrphanMax) {
      gone.push_back(it->first);
      it = servers_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

}  // namespace pylon::server
