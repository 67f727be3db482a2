// A route peer's INFO and CONNECT, decoded as the reference decodes them: json.Unmarshal into
// its Info (server.go) and, for CONNECT, first into ClientOpts (client.go processConnect) and
// then into connectInfo (route.go processRouteConnect), Go's error texts included
// (proto/go_json.h). Pure and never throws: a peer's bad JSON costs only its own route.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pylon::server {

// What a route peer's INFO tells us.
struct RouteInfo {
  std::string id, name, version, cluster, host, ip;
  int port = 0;
  int proto = 0;
  bool headers = false, auth_required = false, dynamic = false, lnoc = false, ldm = false;
  int64_t max_payload = 0;
  std::vector<std::string> connect_urls;
  std::vector<std::string> ws_connect_urls;
  std::vector<std::string> leafnode_urls;    // where leafs can reach the peer (its leafnodes listener)  // the peer's WebSocket URLs (its websocket {})
  // Pylon's extra INFO field: the peer's HTTP monitoring URL ("http://host:port"), with an
  // unspecified host (0.0.0.0, ::) replaced by the route's remote IP. Empty for nats-server.
  std::string monitor_url;
  // The reference's Info.NoGossip (nats-server 2.10.17+, issue #5483; 2.9 neither sends nor
  // reads it): the peer dialled us because of gossip that said so, so we must not gossip it
  // to our other routes (the member that told it about us told them too).
  bool no_gossip = false;
};

// The fields of a route's CONNECT that a route uses (the reference's connectInfo).
struct RouteConnect {
  bool echo = false, verbose = false, pedantic = false, tls_required = false, headers = false;
  bool dynamic = false, lnoc = false;
  std::string user, pass, auth_token, name, cluster, gateway;
  std::string lang;  // only a client sends it: then it knocked on the wrong port
};

// Fills `out` from an INFO's JSON; `monitor_url` is left as advertised (the caller knows the
// route's remote address). Returns the error text the reference logs when it cannot, e.g.
// `json: cannot unmarshal number 1.5 into Go struct field Info.port of type int`; then `out`
// is not to be used.
std::optional<std::string> decode_route_info(std::string_view json, RouteInfo& out);

// Fills `out` from a route CONNECT's JSON; the error text as decode_route_info's.
std::optional<std::string> decode_route_connect(std::string_view json, RouteConnect& out);

}  // namespace pylon::server
