// /leafz (the leaf connections), with the reference 2.9's fields (monitor.go Leafz, LeafInfo).
#include <boost/json.hpp>

#include "server/config/duration.h"
#include "server/leafnode/leafnodes.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/format.h"
#include "server/server.h"

namespace pylon::server::monitor {

namespace json = boost::json;

json::object build_leafz(Server& server, SysTime now, bool subs, const std::string& account) {
  json::object o;
  o["server_id"] = server.id();
  o["now"] = rfc3339(now);
  json::array list;
  for (const auto& l : server.leafnodes().leafs(subs)) {
    if (!account.empty() && l.account != account) continue;
    json::object li;
    // name and is_spoke are 2.10's (2.9 has neither): the peer's server name, and whether we
    // dialled it. The dashboard draws the leaf link with them.
    li["name"] = l.name;
    li["is_spoke"] = l.is_spoke;
    li["account"] = l.account;
    li["ip"] = l.ip;
    li["port"] = l.port;
    if (l.rtt.count() != 0) li["rtt"] = format_duration(l.rtt);
    li["in_msgs"] = l.in_msgs;
    li["out_msgs"] = l.out_msgs;
    li["in_bytes"] = l.in_bytes;
    li["out_bytes"] = l.out_bytes;
    li["subscriptions"] = l.num_subs;
    if (subs && !l.subs.empty()) {
      json::array a;
      for (const auto& s : l.subs) a.emplace_back(s);
      li["subscriptions_list"] = std::move(a);
    }
    list.emplace_back(std::move(li));
  }
  o["leafnodes"] = list.size();
  o["leafs"] = std::move(list);
  return o;
}

}  // namespace pylon::server::monitor
