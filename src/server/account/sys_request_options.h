// The bodies of $SYS.REQ requests, decoded as the reference decodes its *EventOptions
// structs (the endpoint's options and EventFilterOptions) with encoding/json: Go's rules for
// types and Go's error texts (proto/go_json.h). Used by SystemAccount::answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/go_json.h"
#include "server/monitor/endpoints.h"

namespace pylon::server {

// What a $SYS.REQ request asks for (the reference's names, the subject's last token). kInfo,
// kAccountStatz and kConns are the account-scoped INFO, STATZ and CONNS.
enum class SysRequest {
  kStatsz, kVarz, kConnz, kSubsz, kRoutez, kHealthz, kAccountz, kJsz, kGatewayz, kLeafz,
  kInfo, kAccountStatz, kConns,
};

// EventFilterOptions: which servers a PING request is for (empty: any).
struct SysEventFilter {
  std::string name, cluster, host, domain;
  std::vector<std::string> tags;
  // Field i of EventFilterOptions, in the order the .cc lists them (kFilterFields).
  void set(size_t i, const proto::gojson::Value& v) {
    switch (i) {
      case 0: name = v.s; break;
      case 1: cluster = v.s; break;
      case 2: host = v.s; break;
      case 3: tags = v.list; break;
      case 4: domain = v.s; break;
      default: break;
    }
  }
};

// A request's options: the endpoint's own (ConnzOptions, SubszOptions, ...) and the filter.
struct SysRequestOptions {
  SysEventFilter filter;
  monitor::ConnzOptions connz;
  monitor::SubszOptions subsz;
  int routez_subs = 0;
  std::string account;
  // LeafzOptions
  bool leafz_subs = false;
  std::string leafz_account;
  // AccountStatzOptions
  std::vector<std::string> accounts;
  bool include_unused = false;
};

// Decodes `body` (the request's JSON, or empty) into `o`; Go's error text when json.Unmarshal
// would fail.
std::optional<std::string> decode_request_options(SysRequest what, std::string_view body,
                                                  SysRequestOptions& o);

}  // namespace pylon::server
