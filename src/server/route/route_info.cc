#include "server/route/route_info.h"

#include "proto/go_json.h"
#include "server/client/connect_json.h"

namespace pylon::server {

namespace {
using proto::gojson::Field;
using proto::gojson::Type;
using proto::gojson::Value;

// server.go's Info, every field in its order, so that a wrongly typed field we do not use
// still closes the route with the reference's words.
enum InfoField : size_t {
  kId, kName, kVersion, kProto, kGitCommit, kGo, kHost, kPort, kHeaders, kAuthRequired, kTlsRequired,
  kTlsVerify, kTlsAvailable, kMaxPayload, kJetStream, kIp, kClientId, kClientIp, kNonce, kCluster,
  kDynamic, kDomain, kConnectUrls, kWsConnectUrls, kLdm, kImport, kExport, kLnoc, kInfoOnConnect,
  kConnectInfo, kGateway, kGatewayUrls, kGatewayUrl, kGatewayCmd, kGatewayCmdPayload, kGatewayNrp,
  kGatewayIom, kLeafnodeUrls, kRemoteAccount,
  kMonitorUrl,  // Pylon's own; nats-server's Info has no such field (so it ignores it)
  kNoGossip,    // nats-server 2.10.17+'s; 2.9's Info has none (so it ignores it)
};
constexpr Field kInfoFields[] = {
    {"server_id", Type::kString},      {"server_name", Type::kString},
    {"version", Type::kString},        {"proto", Type::kInt},
    {"git_commit", Type::kString},     {"go", Type::kString},
    {"host", Type::kString},           {"port", Type::kInt},
    {"headers", Type::kBool},          {"auth_required", Type::kBool},
    {"tls_required", Type::kBool},     {"tls_verify", Type::kBool},
    {"tls_available", Type::kBool},    {"max_payload", Type::kInt32},
    {"jetstream", Type::kBool},        {"ip", Type::kString},
    {"client_id", Type::kUint64},      {"client_ip", Type::kString},
    {"nonce", Type::kString},          {"cluster", Type::kString},
    {"cluster_dynamic", Type::kBool},  {"domain", Type::kString},
    {"connect_urls", Type::kStringSlice}, {"ws_connect_urls", Type::kStringSlice},
    {"ldm", Type::kBool},              {"import", Type::kSubjectPermission},
    {"export", Type::kSubjectPermission}, {"lnoc", Type::kBool},
    {"info_on_connect", Type::kBool},  {"connect_info", Type::kBool},
    {"gateway", Type::kString},        {"gateway_urls", Type::kStringSlice},
    {"gateway_url", Type::kString},    {"gateway_cmd", Type::kUint8},
    {"gateway_cmd_payload", Type::kBytes}, {"gateway_nrp", Type::kBool},
    {"gateway_iom", Type::kBool},      {"leafnode_urls", Type::kStringSlice},
    {"remote_account", Type::kString}, {"monitor_url", Type::kExtensionString},
    {"no_gossip", Type::kExtensionBool},
};
constexpr proto::gojson::StructType kInfo{"Info", "server.Info", kInfoFields};

// route.go's connectInfo.
enum ConnectInfoField : size_t {
  kCiEcho, kCiVerbose, kCiPedantic, kCiUser, kCiPass, kCiTls, kCiHeaders, kCiName, kCiCluster, kCiDynamic,
  kCiLnoc, kCiGateway,
};
constexpr Field kConnectInfoFields[] = {
    {"echo", Type::kBool},     {"verbose", Type::kBool},         {"pedantic", Type::kBool},
    {"user", Type::kString},   {"pass", Type::kString},          {"tls_required", Type::kBool},
    {"headers", Type::kBool},  {"name", Type::kString},          {"cluster", Type::kString},
    {"cluster_dynamic", Type::kBool}, {"lnoc", Type::kBool},     {"gateway", Type::kString},
};
constexpr proto::gojson::StructType kConnectInfoStruct{"connectInfo", "server.connectInfo", kConnectInfoFields};
}  // namespace

std::optional<std::string> decode_route_info(std::string_view json, RouteInfo& out) {
  return proto::gojson::unmarshal(json, kInfo, [&](size_t f, const Value& v) {
    switch (static_cast<InfoField>(f)) {
      case kId: out.id = v.s; break;
      case kName: out.name = v.s; break;
      case kVersion: out.version = v.s; break;
      case kProto: out.proto = static_cast<int>(v.i); break;
      case kHost: out.host = v.s; break;
      case kPort: out.port = static_cast<int>(v.i); break;
      case kHeaders: out.headers = v.b; break;
      case kAuthRequired: out.auth_required = v.b; break;
      case kMaxPayload: out.max_payload = v.i; break;
      case kIp: out.ip = v.s; break;
      case kCluster: out.cluster = v.s; break;
      case kDynamic: out.dynamic = v.b; break;
      case kConnectUrls: out.connect_urls = v.list; break;
      case kWsConnectUrls: out.ws_connect_urls = v.list; break;
      case kLeafnodeUrls: out.leafnode_urls = v.list; break;
      case kLdm: out.ldm = v.b; break;
      case kLnoc: out.lnoc = v.b; break;
      case kMonitorUrl: out.monitor_url = v.s; break;
      case kNoGossip: out.no_gossip = v.b; break;
      default: break;  // decoded for its type check only
    }
  });
}

std::optional<std::string> decode_route_connect(std::string_view json, RouteConnect& out) {
  // The reference reads every CONNECT as a client's first, whatever the port.
  ClientConnect opts;
  if (auto e = decode_client_connect(json, opts)) return e;
  out.lang = opts.lang;
  out.auth_token = opts.auth_token;
  // A client on the route port is turned away before the route's own decode.
  if (!out.lang.empty()) return std::nullopt;
  return proto::gojson::unmarshal(json, kConnectInfoStruct, [&](size_t f, const Value& v) {
    switch (static_cast<ConnectInfoField>(f)) {
      case kCiEcho: out.echo = v.b; break;
      case kCiVerbose: out.verbose = v.b; break;
      case kCiPedantic: out.pedantic = v.b; break;
      case kCiUser: out.user = v.s; break;
      case kCiPass: out.pass = v.s; break;
      case kCiTls: out.tls_required = v.b; break;
      case kCiHeaders: out.headers = v.b; break;
      case kCiName: out.name = v.s; break;
      case kCiCluster: out.cluster = v.s; break;
      case kCiDynamic: out.dynamic = v.b; break;
      case kCiLnoc: out.lnoc = v.b; break;
      case kCiGateway: out.gateway = v.s; break;
    }
  });
}

}  // namespace pylon::server
