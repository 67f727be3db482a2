// The checks over the options as a whole, after a config file or the flags set them
// (config_loader.h): the reference's validateOptions and the checks its setters make.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

#include "server/account/imports_check.h"
#include "server/config/config_loader.h"
#include "server/config/url.h"

namespace pylon::server {

namespace {
// The reference's validateNoAuthUser, for the top level's and the websocket block's.
void check_no_auth_user(const Options& o, const std::string& name) {
  if (name.empty()) return;
  if (o.users.empty()) {
    throw std::invalid_argument(fmt::format("no_auth_user: \"{}\" present, but users are not defined", name));
  }
  for (const auto& u : o.users) {
    if (u.user == name) return;
  }
  throw std::invalid_argument(
      fmt::format("no_auth_user: \"{}\" not present as user in authorization block or account configuration", name));
}

// The reference's validateWebsocketOptions, in its words.
void validate_websocket(const Options& o) {
  const WebsocketOptions& w = o.websocket;
  if (!w.enabled()) return;  // without a port the rest does not matter
  if (w.port < -1 || w.port > 65535) throw std::invalid_argument(fmt::format("invalid websocket port {}", w.port));
  if (!w.tls.enabled && !w.no_tls) throw std::invalid_argument("websocket requires TLS configuration");
  for (const auto& ao : w.allowed_origins) {
    if (ao.find("://") == std::string::npos) {
      throw std::invalid_argument(fmt::format("unable to parse allowed origin: parse \"{}\": invalid URI for request", ao));
    }
  }
  check_no_auth_user(o, w.no_auth_user);
  if (!o.users.empty() || !o.nkeys.empty()) {
    if (!w.user.empty()) {
      throw std::invalid_argument("websocket authentication username not compatible with presence of users/nkeys");
    }
    if (!w.token.empty()) {
      throw std::invalid_argument("websocket authentication token not compatible with presence of users/nkeys");
    }
  }
  if (!w.jwt_cookie.empty()) {
    throw std::invalid_argument(fmt::format(
        "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"{}\"",
        w.jwt_cookie));
  }
}
// The reference's validateLeafNode (local accounts, no operator mode), in its words.
void validate_leafnodes(const Options& o) {
  const LeafNodeOptions& l = o.leafnodes;
  if (l.port < -1 || l.port > 65535) throw std::invalid_argument(fmt::format("invalid leafnode port {}", l.port));
  auto exists = [&](const std::string& name) {
    if (name.empty() || name == kGlobalAccount) return true;
    if (name == kDefaultSystemAccount && o.system_account.empty() && !o.no_system_account) return true;
    for (const auto& a : o.accounts) {
      if (a.name == name) return true;
    }
    return false;
  };
  auto check = [&](const std::string& name, std::string_view where) {
    if (!exists(name)) {
      throw std::invalid_argument(fmt::format("cannot find local account \"{}\" specified in leafnode {}", name, where));
    }
  };
  check(l.account, "authorization");
  for (const auto& u : l.users) check(u.account, "authorization");
  for (const auto& r : l.remotes) check(r.account, "remote");
  for (const auto& r : l.remotes) {
    if (r.urls.empty()) throw std::invalid_argument("remote leafnode configuration needs at least one url");
  }
}
}  // namespace

void validate_no_auth_user(const Options& o) { check_no_auth_user(o, o.no_auth_user); }

void validate_options(const Options& o) {
  if (o.port < -1 || o.port > 65535) throw std::invalid_argument(fmt::format("invalid port {}", o.port));
  if (o.max_payload <= 0) throw std::invalid_argument("max_payload must be positive");
  if (o.max_control_line <= 0) throw std::invalid_argument("max_control_line must be positive");
  if (o.max_pending > 0 && o.max_payload > o.max_pending) {
    throw std::invalid_argument(fmt::format("max_payload ({}) can not be higher than max_pending ({})",
                                            o.max_payload, o.max_pending));
  }
  if (!o.token.empty() && (!o.user.empty() || !o.users.empty() || !o.nkeys.empty())) {
    throw std::invalid_argument("can not have a token and users at the same time");
  }
  if (o.ping_max < 0) throw std::invalid_argument("ping_max must not be negative");
  validate_no_auth_user(o);
  validate_websocket(o);
  if (auto p = check_imports(o.accounts)) throw std::invalid_argument(p->message);
  // A named system account must be one of `accounts {}` ($SYS too: only the implicit default
  // exists without being configured), in the reference's words (NewServer's lookupAccount).
  if (!o.system_account.empty()) {
    bool found = false;
    for (const auto& a : o.accounts) found = found || a.name == o.system_account;
    if (!found) throw std::invalid_argument("error resolving system account: account missing");
  }
  validate_leafnodes(o);
  for (const auto& r : o.cluster.routes) {
    try {
      parse_url(r);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("invalid route URL: {}", e.what()));
    }
  }
}

}  // namespace pylon::server
