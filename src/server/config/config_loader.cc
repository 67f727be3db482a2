#include "server/config/config_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "proto/subject.h"
#include "server/config/config.h"
#include "server/client/nkeys.h"
#include "server/config/url.h"
#include "server/tls/tls_block.h"
#include "server/tls/tls_context.h"

namespace pylon::server {

namespace {

using config::ConfigError;
using config::Entry;
using config::Value;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Collects warnings; knows the file for messages.
struct Loader {
  std::vector<std::string> warnings;

  [[noreturn]] void fail(const config::Position& pos, const std::string& msg) { throw ConfigError(pos, msg); }

  void unknown(const Entry& e) {
    if (e.used_as_variable) return;  // a variable definition, not an option
    warnings.push_back(fmt::format("{}: unknown field \"{}\"", e.key_pos.to_string(), e.key));
  }

  void unsupported(const Entry& e, std::string_view what) {
    fail(e.key_pos, fmt::format("\"{}\": {} is not supported by Pylon yet", e.key, what));
  }

  int to_int(const Value& v, int64_t lo, int64_t hi, std::string_view field) {
    int64_t i = v.as_int();
    if (i < lo || i > hi) fail(v.pos(), fmt::format("{} must be between {} and {}, got {}", field, lo, hi, i));
    return static_cast<int>(i);
  }

  Duration duration(const Entry& e) {
    bool legacy = false;
    auto d = config::parse_duration(e.value, &legacy);
    if (legacy) {
      warnings.push_back(fmt::format("{}: {} should be converted to a duration", e.key_pos.to_string(), e.key));
    }
    return d;
  }

  // authorization.timeout: seconds as a number (2, 0.5), or a duration string ("2s").
  Duration auth_timeout(const Value& v) {
    if (v.is_number()) {
      return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(v.as_number()));
    }
    return config::parse_duration(v);
  }

  // "host:port", ":port", or a bare port number.
  void listen(const Value& v, std::string& host, int& port) {
    if (v.is_int()) {
      port = to_int(v, 0, 65535, "port");
      return;
    }
    try {
      std::string h;
      int p = 0;
      split_host_port(v.as_string(), h, p);
      if (!h.empty()) host = h;
      port = p;
    } catch (const std::invalid_argument& e) {
      fail(v.pos(), e.what());
    }
  }

  void authorization(const Value& v, std::string& user, std::string& pass, std::string& token, Duration& timeout,
                     std::vector<User>* users, std::vector<NkeyUser>* nkeys = nullptr) {
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      if (k == "user" || k == "username") user = e.value.as_string();
      else if (k == "password" || k == "pass") pass = e.value.as_string();
      else if (k == "token") token = e.value.as_string();
      else if (k == "timeout") timeout = auth_timeout(e.value);
      else if (k == "users" && users) {
        for (const auto& u : e.value.as_array()) {
          User usr;
          std::string nkey;
          for (const auto& ue : u.as_map()) {
            std::string uk = lower(ue.key);
            if (uk == "user" || uk == "username") usr.user = ue.value.as_string();
            else if (uk == "password" || uk == "pass") usr.password = ue.value.as_string();
            else if (uk == "permissions") permissions(ue.value, usr.permissions);
            else if (uk == "nkey" && nkeys) nkey = ue.value.as_string();
            else unknown(ue);
          }
          if (!nkey.empty()) {
            // server/client/nkeys.h's check_nkey_user: the reference's words for a bad entry.
            if (auto err = check_nkey_user(usr, nkey, *nkeys)) fail(u.pos(), *err);
            nkeys->push_back({std::move(nkey), std::move(usr.permissions)});
            continue;
          }
          if (usr.user.empty()) fail(u.pos(), "a user entry needs a \"user\"");
          users->push_back(std::move(usr));
        }
      } else if (k == "permissions" || k == "default_permissions") {
        unsupported(e, "permissions");
      } else {
        unknown(e);
      }
    }
    if (!token.empty() && !user.empty()) {
      fail(v.pos(), "can not have a token and a user in the same authorization block");
    }
  }

  // A tls block, its files read now: the reference's GenTLSConfig errors are config errors
  // at the block (a missing certificate stops the start, and a reload, with file:line:column).
  TlsConfig tls(const Entry& e, server::tls::BlockKind kind) {
    TlsConfig t = server::tls::parse_tls_block(e.value, kind, warnings);
    try {
      server::tls::Context::make(t, kind == server::tls::BlockKind::kClient ? server::tls::ContextKind::kClient
                                                                            : server::tls::ContextKind::kRoute);
    } catch (const std::runtime_error& ex) {
      fail(e.value.pos(), ex.what());
    }
    return t;
  }

  // A subject list: a single string or an array of strings.
  std::vector<std::string> subjects(const Value& v) {
    std::vector<std::string> out;
    if (v.is_string()) {
      out.push_back(v.as_string());
    } else {
      for (const auto& s : v.as_array()) out.push_back(s.as_string());
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (!proto::valid_subscribe_subject(out[i])) fail(v.pos(), fmt::format("invalid subject \"{}\" in permissions", out[i]));
    }
    return out;
  }

  // publish = "a.b" | ["a.*", ...] | { allow = [...], deny = [...] }
  void subject_permission(const Value& v, SubjectPermission& p) {
    if (!v.is_map()) {
      p.allow = subjects(v);
      return;
    }
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      if (k == "allow") p.allow = subjects(e.value);
      else if (k == "deny") p.deny = subjects(e.value);
      else unknown(e);
    }
  }

  void permissions(const Value& v, Permissions& p) {
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      if (k == "publish" || k == "pub") subject_permission(e.value, p.publish);
      else if (k == "subscribe" || k == "sub") subject_permission(e.value, p.subscribe);
      else if (k == "allow_responses" || k == "responses") unsupported(e, "allow_responses");
      else unknown(e);
    }
  }

  void cluster(const Value& v, ClusterOptions& c) {
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      if (k == "name") c.name = e.value.as_string();
      else if (k == "listen") listen(e.value, c.host, c.port);
      else if (k == "host" || k == "net") c.host = e.value.as_string();
      else if (k == "port") c.port = to_int(e.value, 0, 65535, "port");
      else if (k == "advertise" || k == "cluster_advertise") c.advertise = e.value.as_string();
      else if (k == "no_advertise") c.no_advertise = e.value.as_bool();
      else if (k == "connect_retries") c.connect_retries = to_int(e.value, 0, 1 << 30, "connect_retries");
      else if (k == "authorization") authorization(e.value, c.user, c.password, c.token, c.auth_timeout, nullptr);
      else if (k == "routes") {
        c.routes.clear();
        for (const auto& r : e.value.as_array()) {
          const std::string& s = r.as_string();
          try {
            parse_url(s);
          } catch (const std::invalid_argument& ex) {
            fail(r.pos(), ex.what());
          }
          c.routes.push_back(s);
        }
      } else if (k == "tls") c.tls = tls(e, server::tls::BlockKind::kCluster);
      else unknown(e);
    }
  }

  void top(const Value& root, Options& o) {
    for (const auto& e : root.as_map()) {
      std::string k = lower(e.key);
      const Value& v = e.value;
      if (k == "listen") listen(v, o.host, o.port);
      else if (k == "host" || k == "net") o.host = v.as_string();
      else if (k == "port") o.port = to_int(v, -1, 65535, "port");
      else if (k == "server_name") o.server_name = v.as_string();
      else if (k == "client_advertise") o.client_advertise = v.as_string();
      else if (k == "http" || k == "monitor_listen") {
        std::string h = o.http_host;
        listen(v, h, o.http_port);
        o.http_host = h;
      } else if (k == "https") {
        std::string h = o.http_host;
        listen(v, h, o.https_port);
        o.http_host = h;  // as the reference: one monitoring host for http and https
      } else if (k == "http_port" || k == "monitor_port") o.http_port = to_int(v, -1, 65535, "http_port");
      else if (k == "https_port") o.https_port = to_int(v, -1, 65535, "https_port");
      else if (k == "authorization") authorization(v, o.user, o.password, o.token, o.auth_timeout, &o.users, &o.nkeys);
      else if (k == "cluster") cluster(v, o.cluster);
      else if (k == "debug") o.debug = v.as_bool();
      else if (k == "trace") o.trace = v.as_bool();
      else if (k == "logtime") o.logtime = v.as_bool();
      else if (k == "log_file" || k == "logfile") o.log_file = v.as_string();
      else if (k == "log_size_limit") o.log_size_limit = config::parse_size(v);
      else if (k == "max_traced_msg_len") o.max_traced_msg_len = to_int(v, 0, 1 << 30, "max_traced_msg_len");
      else if (k == "pid_file" || k == "pidfile") o.pid_file = v.as_string();
      else if (k == "max_connections" || k == "max_conn") o.max_connections = to_int(v, 0, 1 << 30, "max_connections");
      else if (k == "max_subscriptions" || k == "max_subs") o.max_subscriptions = to_int(v, 0, 1 << 30, "max_subscriptions");
      else if (k == "max_control_line") o.max_control_line = config::parse_size(v);
      else if (k == "max_payload") o.max_payload = config::parse_size(v);
      else if (k == "max_pending") o.max_pending = config::parse_size(v);
      else if (k == "write_deadline") o.write_deadline = duration(e);
      else if (k == "ping_interval") o.ping_interval = duration(e);
      else if (k == "ping_max") o.ping_max = to_int(v, 0, 1 << 30, "ping_max");
      else if (k == "lame_duck_duration") o.lame_duck_duration = duration(e);
      else if (k == "lame_duck_grace_period") o.lame_duck_grace_period = duration(e);
      else if (k == "event_loops") o.event_loops = to_int(v, 0, 1024, "event_loops");
      else if (k == "tls") o.tls = tls(e, server::tls::BlockKind::kClient);
      else if (k == "jetstream") unsupported(e, "JetStream");
      else if (k == "leafnodes" || k == "leaf") unsupported(e, "leaf nodes");
      else if (k == "gateway") unsupported(e, "gateways (super-clusters)");
      else if (k == "websocket" || k == "ws") unsupported(e, "WebSocket");
      else if (k == "mqtt") unsupported(e, "MQTT");
      else if (k == "accounts" || k == "operator" || k == "resolver") unsupported(e, "multiple accounts");
      else unknown(e);
    }
  }
};

}  // namespace

std::vector<std::string> load_config_file(const std::string& path, Options& opts) {
  Value root = config::parse_file(path);
  Loader l;
  l.top(root, opts);
  return std::move(l.warnings);
}

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
  for (const auto& r : o.cluster.routes) {
    try {
      parse_url(r);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("invalid route URL: {}", e.what()));
    }
  }
}

}  // namespace pylon::server
