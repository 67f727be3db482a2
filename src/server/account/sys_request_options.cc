#include "server/account/sys_request_options.h"

#include <array>

namespace pylon::server {

namespace gojson = proto::gojson;

namespace {

// EventFilterOptions' fields, which every request body but STATSZ's and VARZ's also has.
constexpr gojson::Field kFilterFields[] = {
    {"server_name", gojson::Type::kString}, {"cluster", gojson::Type::kString}, {"host", gojson::Type::kString},
    {"tags", gojson::Type::kStringSlice},   {"domain", gojson::Type::kString},
};
constexpr size_t kNumFilterFields = std::size(kFilterFields);

template <size_t N>
constexpr std::array<gojson::Field, kNumFilterFields + N> with_filter(const gojson::Field (&own)[N]) {
  std::array<gojson::Field, kNumFilterFields + N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = own[i];
  for (size_t i = 0; i < kNumFilterFields; ++i) out[N + i] = kFilterFields[i];
  return out;
}

constexpr gojson::Field kConnzOwn[] = {
    {"sort", gojson::Type::kString},       {"auth", gojson::Type::kBool},
    {"subscriptions", gojson::Type::kBool}, {"subscriptions_detail", gojson::Type::kBool},
    {"offset", gojson::Type::kInt},         {"limit", gojson::Type::kInt},
    {"cid", gojson::Type::kUint64},         {"state", gojson::Type::kInt},
    {"acc", gojson::Type::kString},
    // Decoded for Go's type checks, not applied: /connz has no such filters yet.
    {"user", gojson::Type::kString},        {"filter_subject", gojson::Type::kString},
    {"mqtt_client", gojson::Type::kString},
};
constexpr gojson::Field kSubszOwn[] = {
    {"offset", gojson::Type::kInt},        {"limit", gojson::Type::kInt}, {"subscriptions", gojson::Type::kBool},
    {"account", gojson::Type::kString},    {"test", gojson::Type::kString},
};
constexpr gojson::Field kRoutezOwn[] = {
    {"subscriptions", gojson::Type::kBool}, {"subscriptions_detail", gojson::Type::kBool}};
constexpr gojson::Field kHealthzOwn[] = {
    {"js-enabled-only", gojson::Type::kBool}, {"js-server-only", gojson::Type::kBool}};
constexpr gojson::Field kAccountzOwn[] = {{"account", gojson::Type::kString}};
constexpr gojson::Field kAccountStatzOwn[] = {{"accounts", gojson::Type::kStringSlice},
                                             {"include_unused", gojson::Type::kBool}};
// JSzOptions and GatewayzOptions: decoded for Go's type checks; JetStream and gateways are off.
constexpr gojson::Field kJszOwn[] = {
    {"account", gojson::Type::kString}, {"accounts", gojson::Type::kBool},    {"streams", gojson::Type::kBool},
    {"consumer", gojson::Type::kBool},  {"config", gojson::Type::kBool},      {"leader_only", gojson::Type::kBool},
    {"offset", gojson::Type::kInt},     {"limit", gojson::Type::kInt},
};
constexpr gojson::Field kLeafzOwn[] = {{"subscriptions", gojson::Type::kBool}, {"account", gojson::Type::kString}};
constexpr gojson::Field kGatewayzOwn[] = {
    {"name", gojson::Type::kString}, {"accounts", gojson::Type::kBool}, {"account_name", gojson::Type::kString}};

constexpr auto kConnzFields = with_filter(kConnzOwn);
constexpr auto kSubszFields = with_filter(kSubszOwn);
constexpr auto kRoutezFields = with_filter(kRoutezOwn);
constexpr auto kHealthzFields = with_filter(kHealthzOwn);
constexpr auto kAccountzFields = with_filter(kAccountzOwn);
constexpr auto kAccountStatzFields = with_filter(kAccountStatzOwn);
constexpr auto kJszFields = with_filter(kJszOwn);
constexpr auto kGatewayzFields = with_filter(kGatewayzOwn);
constexpr auto kLeafzFields = with_filter(kLeafzOwn);

}  // namespace

std::optional<std::string> decode_request_options(SysRequest what, std::string_view body,
                                                  SysRequestOptions& o) {
  bool detail = false, subs = false;
  auto filter_at = [&](size_t own, size_t i, const gojson::Value& v) {
    if (i >= own) o.filter.set(i - own, v);
  };
  std::optional<std::string> err;
  switch (what) {
    case SysRequest::kStatsz:
    case SysRequest::kVarz:
    case SysRequest::kInfo: {
      gojson::StructType t{what == SysRequest::kStatsz ? "StatszEventOptions"
                           : what == SysRequest::kVarz ? "VarzEventOptions" : "AccInfoEventOptions",
                           what == SysRequest::kStatsz ? "server.StatszEventOptions"
                           : what == SysRequest::kVarz ? "server.VarzEventOptions" : "server.AccInfoEventOptions",
                           kFilterFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) { o.filter.set(i, v); });
      break;
    }
    case SysRequest::kAccountStatz: {
      gojson::StructType t{"AccountStatzEventOptions", "server.AccountStatzEventOptions", kAccountStatzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        if (i == 0) o.accounts = v.list;
        else if (i == 1) o.include_unused = v.b;
        else filter_at(std::size(kAccountStatzOwn), i, v);
      });
      break;
    }
    case SysRequest::kJsz: {
      gojson::StructType t{"JszEventOptions", "server.JszEventOptions", kJszFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) { filter_at(std::size(kJszOwn), i, v); });
      break;
    }
    case SysRequest::kGatewayz: {
      gojson::StructType t{"GatewayzEventOptions", "server.GatewayzEventOptions", kGatewayzFields};
      err = gojson::unmarshal(body, t,
                              [&](size_t i, const gojson::Value& v) { filter_at(std::size(kGatewayzOwn), i, v); });
      break;
    }
    case SysRequest::kLeafz: {
      gojson::StructType t{"LeafzEventOptions", "server.LeafzEventOptions", kLeafzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        if (i == 0) o.leafz_subs = v.b;
        else if (i == 1) o.leafz_account = v.s;
        else filter_at(std::size(kLeafzOwn), i, v);
      });
      break;
    }
    case SysRequest::kConns:
      break;  // not a zReq: answer_conns decodes its own body
    case SysRequest::kConnz: {
      gojson::StructType t{"ConnzEventOptions", "server.ConnzEventOptions", kConnzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        monitor::ConnzOptions& c = o.connz;
        switch (i) {
          case 0: c.sort = v.s; break;
          case 1: c.auth = v.b; break;
          case 2: subs = v.b; break;
          case 3: detail = v.b; break;
          case 4: c.offset = v.i; break;
          case 5: c.limit = v.i; break;
          case 6: c.cid = v.u; break;
          // The reference's ConnState: 0 open, 1 closed, 2 all (any other value lists none).
          case 7: c.state = v.i == 1 ? monitor::ConnState::kClosed
                            : v.i == 2 ? monitor::ConnState::kAll : monitor::ConnState::kOpen; break;
          case 8: c.account = v.s; break;
          default: filter_at(std::size(kConnzOwn), i, v);
        }
      });
      o.connz.subs = detail ? 2 : subs ? 1 : 0;
      break;
    }
    case SysRequest::kSubsz: {
      gojson::StructType t{"SubszEventOptions", "server.SubszEventOptions", kSubszFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        monitor::SubszOptions& s = o.subsz;
        switch (i) {
          case 0: s.offset = v.i; break;
          case 1: s.limit = v.i; break;
          case 2: s.subs = v.b; break;
          case 3: s.account = v.s; break;
          case 4: s.test = v.s; break;
          default: filter_at(std::size(kSubszOwn), i, v);
        }
      });
      break;
    }
    case SysRequest::kRoutez: {
      gojson::StructType t{"RoutezEventOptions", "server.RoutezEventOptions", kRoutezFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        if (i == 0) subs = v.b;
        else if (i == 1) detail = v.b;
        else filter_at(std::size(kRoutezOwn), i, v);
      });
      o.routez_subs = detail ? 2 : subs ? 1 : 0;
      break;
    }
    case SysRequest::kHealthz: {
      gojson::StructType t{"HealthzEventOptions", "server.HealthzEventOptions", kHealthzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) { filter_at(std::size(kHealthzOwn), i, v); });
      break;
    }
    case SysRequest::kAccountz: {
      gojson::StructType t{"AccountzEventOptions", "server.AccountzEventOptions", kAccountzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        if (i == 0) o.account = v.s;
        else filter_at(std::size(kAccountzOwn), i, v);
      });
      break;
    }
  }
  return err;
}

}  // namespace pylon::server
