#include "server/config/config_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "proto/subject.h"
#include "server/account/imports_check.h"
#include "server/config/config.h"
#include "server/client/nkeys.h"
#include "server/config/url.h"
#include "server/leafnode/credentials.h"
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

// A value's type as Go's %T names it in the reference's messages.
std::string_view go_type(const Value& v) {
  switch (v.kind()) {
    case config::Kind::Bool: return "bool";
    case config::Kind::Int: return "int64";
    case config::Kind::Float: return "float64";
    case config::Kind::String: return "string";
    case config::Kind::DateTime: return "time.Time";
    case config::Kind::Map: return "map[string]interface {}";
    case config::Kind::Array: return "[]interface {}";
    default: return "<nil>";
  }
}

// Collects warnings; knows the file for messages.
struct Loader {
  std::vector<std::string> warnings;
  // Where things were written, for the checks that can only run once the whole file is read
  // (check_accounts): per account its name, and per export and import their entries.
  struct AccountPositions {
    config::Position name;
    std::vector<config::Position> exports, imports;
  };
  std::vector<AccountPositions> account_pos;
  std::vector<config::Position> user_pos;  // parallel to Options::users
  config::Position accounts_pos, no_auth_user_pos;
  bool accounts_have_users = false;
  config::Position first_account_users_pos;

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

  // A file name as the reference's expandPath: $VAR and ${VAR} from the environment (Go's
  // os.ExpandEnv), then a leading "~" for the home directory.
  std::string expand_path(const Value& v) {
    const std::string& p = v.as_string();
    std::string out;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] != '$' || i + 1 == p.size()) {
        out += p[i];
        continue;
      }
      size_t start = i + 1, end;
      std::string name;
      if (p[start] == '{') {
        end = p.find('}', start);
        if (end == std::string::npos) {  // Go takes a bad ${ as nothing
          i = p.size();
          continue;
        }
        name = p.substr(start + 1, end - start - 1);
      } else {
        end = start;
        while (end < p.size() && (std::isalnum(static_cast<unsigned char>(p[end])) || p[end] == '_')) ++end;
        name = p.substr(start, end - start);
        --end;
      }
      if (const char* val = std::getenv(name.c_str())) out += val;
      i = end;
    }
    if (!out.empty() && out[0] == '~') {
      const char* home = std::getenv("HOME");
      if (home == nullptr) fail(v.pos(), "$HOME is not defined");
      out = std::string(home) + (out.size() > 1 && out[1] != '/' ? "/" : "") + out.substr(1);
    }
    return out;
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
        parse_users(e.value, *users, "", nkeys);
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

  // A `users` list (authorization's or an account's): every user lands in Options::users,
  // bound to `account` ("" for $G), its position kept for the duplicate check.
  // Users of `authorization` (account "") or of an account; an entry with `nkey` is an nkey
  // user (into *nkeys, when nkey users are allowed here).
  void parse_users(const Value& v, std::vector<User>& users, const std::string& account,
                   std::vector<NkeyUser>* nkeys) {
    for (const auto& u : v.as_array()) {
      User usr;
      usr.account = account;
      std::string nkey;
      for (const auto& ue : u.as_map()) {
        std::string uk = lower(ue.key);
        if (uk == "user" || uk == "username") usr.user = ue.value.as_string();
        else if (uk == "password" || uk == "pass") usr.password = ue.value.as_string();
        else if (uk == "permissions" || uk == "permission") permissions(ue.value, usr.permissions);
        else if (uk == "nkey" && nkeys) nkey = ue.value.as_string();
        else unknown(ue);
      }
      if (!nkey.empty()) {
        // server/client/nkeys.h's check_nkey_user: the reference's words for a bad entry.
        if (auto err = check_nkey_user(usr, nkey, *nkeys)) fail(u.pos(), *err);
        nkeys->push_back({std::move(nkey), std::move(usr.permissions), account});
        continue;
      }
      if (usr.user.empty()) fail(u.pos(), "a user entry needs a \"user\"");
      users.push_back(std::move(usr));
      user_pos.resize(users.size());
      user_pos.back() = u.pos();
    }
  }

  // accounts { A: { users: [...], exports: [...], imports: [...] }, B: {} }, or a list of
  // names, as the reference's parseAccounts. Cross-account checks wait for check_accounts.
  void accounts(const Value& v, Options& o) {
    accounts_pos = v.pos();
    auto add = [&](const std::string& name, const config::Position& pos) -> AccountConfig& {
      if (name == kGlobalAccount) fail(pos, fmt::format("\"{}\" is a Reserved Account", name));
      for (const auto& a : o.accounts) {
        if (a.name == name) fail(pos, fmt::format("Duplicate Account Entry: {}", name));
      }
      o.accounts.push_back(AccountConfig{name, {}, {}});
      account_pos.push_back(AccountPositions{pos, {}, {}});
      return o.accounts.back();
    };
    if (v.is_array()) {
      for (const auto& n : v.as_array()) add(n.as_string(), n.pos());
      return;
    }
    for (const auto& e : v.as_map()) {
      if (e.used_as_variable) continue;
      if (!e.value.is_map()) fail(e.value.pos(), "Expected map entries for accounts");
      add(e.key, e.key_pos);
      size_t ai = o.accounts.size() - 1;
      for (const auto& ae : e.value.as_map()) {
        std::string k = lower(ae.key);
        if (k == "users") {
          size_t before = o.users.size();
          parse_users(ae.value, o.users, e.key, &o.nkeys);
          if (o.users.size() > before && !accounts_have_users) {
            accounts_have_users = true;
            first_account_users_pos = ae.value.pos();
          }
        } else if (k == "exports") {
          for (const auto& x : ae.value.as_array()) {
            o.accounts[ai].exports.push_back(account_export(x));
            account_pos[ai].exports.push_back(x.pos());
          }
        } else if (k == "imports") {
          for (const auto& x : ae.value.as_array()) {
            o.accounts[ai].imports.push_back(account_import(x));
            account_pos[ai].imports.push_back(x.pos());
            const auto& im = o.accounts[ai].imports.back();
            if (im.kind != AccountExport::Kind::kService) continue;
            std::string to = im.to.empty() ? im.subject : im.to;
            for (size_t j = 0; j + 1 < o.accounts[ai].imports.size(); ++j) {
              const auto& dup = o.accounts[ai].imports[j];
              if (dup.kind == AccountExport::Kind::kService && (dup.to.empty() ? dup.subject : dup.to) == to) {
                fail(x.pos(), fmt::format("Duplicate service import subject \"{}\", previously used in import for "
                                          "account \"{}\", subject \"{}\"", to, dup.account, dup.subject));
              }
            }
          }
        } else if (k == "nkey" || k == "jetstream" || k == "mappings" || k == "maps" || k == "limits" ||
                   k == "default_permissions") {
          unsupported(ae, "this account setting");
        } else {
          unknown(ae);
        }
      }
    }
  }

  // {stream: "x.>"} | {service: "q", accounts: [B], response_type: stream, response_threshold: "5s"}
  AccountExport account_export(const Value& v) {
    if (!v.is_map()) fail(v.pos(), fmt::format("Export Items should be a map with type entry, got {}", go_type(v)));
    AccountExport ex;
    bool seen_stream = false, seen_service = false, seen_response = false, seen_threshold = false;
    config::Position response_pos;
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      if (k == "stream" || k == "service") {
        bool stream = k == "stream";
        if (stream ? seen_service : seen_stream) {
          fail(e.value.pos(), fmt::format("Detected {} \"{}\" but already saw a {}", k,
                                          e.value.is_string() ? e.value.as_string() : "", stream ? "service" : "stream"));
        }
        if (!e.value.is_string()) {
          fail(e.value.pos(), fmt::format("Expected {} name to be string, got {}", k, go_type(e.value)));
        }
        (stream ? seen_stream : seen_service) = true;
        ex.kind = stream ? AccountExport::Kind::kStream : AccountExport::Kind::kService;
        ex.subject = e.value.as_string();
      } else if (k == "response" || k == "response_type") {
        if (seen_response) fail(e.value.pos(), "Duplicate response type definition");
        seen_response = true;
        response_pos = e.value.pos();
        if (!e.value.is_string()) {
          fail(e.value.pos(), fmt::format("Expected response type to be string, got {}", go_type(e.value)));
        }
        std::string t = lower(e.value.as_string());
        if (t == "single" || t == "singleton") ex.response = AccountExport::ResponseType::kSingleton;
        else if (t == "stream") ex.response = AccountExport::ResponseType::kStream;
        else if (t == "chunk" || t == "chunked") ex.response = AccountExport::ResponseType::kChunked;
        else fail(e.value.pos(), fmt::format("Unknown response type: \"{}\"", e.value.as_string()));
      } else if (k == "threshold" || k == "response_threshold" || k == "response_max_time" || k == "response_time") {
        if (seen_threshold) fail(e.value.pos(), "Duplicate response threshold detected");
        seen_threshold = true;
        response_pos = e.value.pos();
        if (!e.value.is_string()) {
          fail(e.value.pos(), fmt::format("Expected response threshold to be a parseable time duration, got {}",
                                          go_type(e.value)));
        }
        try {
          ex.response_threshold = config::parse_go_duration(e.value.as_string());
        } catch (const std::invalid_argument&) {
          fail(e.value.pos(), fmt::format("Expected response threshold to be a parseable time duration, got \"{}\"",
                                          e.value.as_string()));
        }
      } else if (k == "accounts") {
        for (const auto& a : e.value.as_array()) ex.accounts.push_back(a.as_string());
      } else if (k == "latency" || k == "account_token_position") {
        unsupported(e, "this export setting");
      } else {
        unknown(e);
      }
    }
    if (!seen_stream && !seen_service) fail(v.pos(), "Export Items should be a map with type entry, got no stream or service");
    if (seen_stream && (seen_response || seen_threshold)) fail(response_pos, "Detected response directive on non-service");
    return ex;
  }

  // {stream: {account: A, subject: "x.>"}, prefix: "p"} | {service: {account: A, subject: "q"}, to: "aq"}
  AccountImport account_import(const Value& v) {
    if (!v.is_map()) fail(v.pos(), fmt::format("Import Items should be a map with type entry, got {}", go_type(v)));
    AccountImport im;
    bool seen_stream = false, seen_service = false;
    config::Position to_pos, prefix_pos;
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      if (k == "stream" || k == "service") {
        bool stream = k == "stream";
        if (stream ? seen_service : seen_stream) {
          fail(e.value.pos(), fmt::format("Detected {} but already saw a {}", k, stream ? "service" : "stream"));
        }
        if (!e.value.is_map()) {
          fail(e.value.pos(), fmt::format("{} entry should be an account map, got {}", stream ? "Stream" : "Service",
                                          go_type(e.value)));
        }
        (stream ? seen_stream : seen_service) = true;
        im.kind = stream ? AccountExport::Kind::kStream : AccountExport::Kind::kService;
        for (const auto& ae : e.value.as_map()) {
          std::string ak = lower(ae.key);
          if (ak == "account") im.account = ae.value.as_string();
          else if (ak == "subject") im.subject = ae.value.as_string();
          else unknown(ae);
        }
        if (im.account.empty() || im.subject.empty()) fail(e.value.pos(), "Expect an account name and a subject");
      } else if (k == "prefix") {
        im.prefix = e.value.as_string();
        prefix_pos = e.value.pos();
      } else if (k == "to") {
        im.to = e.value.as_string();
        to_pos = e.value.pos();
      } else if (k == "share") {
        e.value.as_bool();  // latency sharing: nothing to share without service latency
      } else {
        unknown(e);
      }
    }
    if (!seen_stream && !seen_service) fail(v.pos(), "Import Items should be a map with type entry, got no stream or service");
    if (seen_stream && !im.prefix.empty() && !im.to.empty()) {
      fail(to_pos, "Stream import can not have a 'prefix' and a 'to' property");
    }
    if (seen_service) im.prefix.clear();  // the reference ignores a service's prefix
    return im;
  }

  // After the whole file is read: what spans accounts and users, as the reference's
  // parseAccounts does once every account is defined.
  void check_accounts(const Options& o) {
    if (accounts_have_users) {
      if (!o.user.empty()) fail(first_account_users_pos, "Can not have a single user/pass and accounts");
      if (!o.token.empty()) fail(first_account_users_pos, "Can not have a token and accounts");
    }
    for (size_t i = 0; i < o.users.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (o.users[j].user == o.users[i].user) {
          fail(user_pos[i], fmt::format("Duplicate user \"{}\" detected", o.users[i].user));
        }
      }
    }
    if (auto p = check_imports(o.accounts)) {
      const auto& pos = account_pos[p->account];
      fail(p->in_export ? pos.exports[p->index] : pos.imports[p->index], p->message);
    }
  }

  // A tls block, its files read now: the reference's GenTLSConfig errors are config errors
  // at the block (a missing certificate stops the start, and a reload, with file:line:column).
  TlsConfig tls(const Entry& e, server::tls::BlockKind kind) {
    TlsConfig t = server::tls::parse_tls_block(e.value, kind, warnings);
    using server::tls::BlockKind;
    using server::tls::ContextKind;
    ContextKind ck = kind == BlockKind::kCluster      ? ContextKind::kRoute
                     : kind == BlockKind::kLeafRemote ? ContextKind::kLeafRemote
                                                      : ContextKind::kClient;
    try {
      server::tls::Context::make(t, ck);
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
      else if (k == "allow_responses" || k == "publish_allow_responses") allow_responses(e.value, p);
      else unknown(e);
    }
  }

  // allow_responses: true | { max: N, expires: "1m" }, as the reference's parseAllowResponses.
  void allow_responses(const Value& v, Permissions& p) {
    ResponsePermission rp;
    if (v.is_bool()) {
      if (!v.as_bool()) return;
    } else if (!v.is_map()) {
      fail(v.pos(), "error parsing response permissions, expected a boolean or a map");
    } else {
      for (const auto& e : v.as_map()) {
        std::string k = lower(e.key);
        if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
          int64_t max = e.value.as_int();
          if (max != 0) rp.max_msgs = static_cast<int>(std::clamp<int64_t>(max, -1, 1 << 30));  // 0: the default
        } else if (k == "expires" || k == "expiration" || k == "ttl") {
          if (!e.value.is_string()) fail(e.value.pos(), "error parsing expires, not a duration string");
          Duration d{0};
          try {
            d = config::parse_go_duration(e.value.as_string());
          } catch (const std::invalid_argument& ex) {
            fail(e.value.pos(), fmt::format("error parsing expires: {}", ex.what()));
          }
          if (d != Duration::zero()) rp.expires = d;  // 0: the default; negative: never
        } else if (!e.used_as_variable) {
          fail(e.key_pos, fmt::format("Unknown field \"{}\" parsing permissions", e.key));
        }
      }
    }
    p.has_response = true;
    p.response = rp;
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

  // websocket { ... }, as the reference's parseWebsocket: the same keys and aliases.
  void websocket(const Value& v, WebsocketOptions& w) {
    if (!v.is_map()) fail(v.pos(), fmt::format("Expected websocket to be a map, got {}", go_type(v)));
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      const Value& x = e.value;
      if (k == "listen") listen(x, w.host, w.port);
      else if (k == "port") w.port = to_int(x, -1, 65535, "port");
      else if (k == "host" || k == "net") w.host = x.as_string();
      else if (k == "advertise") w.advertise = x.as_string();
      else if (k == "no_tls") w.no_tls = x.as_bool();
      else if (k == "tls") w.tls = tls(e, server::tls::BlockKind::kClient);
      else if (k == "same_origin") w.same_origin = x.as_bool();
      else if (k == "allowed_origins" || k == "allowed_origin" || k == "allow_origins" || k == "allow_origin" ||
               k == "origins" || k == "origin") {
        w.allowed_origins = subjects(x);  // a string or an array of strings
      } else if (k == "handshake_timeout") {
        // A number is seconds; a string a Go duration (the reference's two cases).
        if (x.is_int()) {
          w.handshake_timeout = std::chrono::seconds(x.as_int());
        } else if (x.is_string()) {
          try {
            w.handshake_timeout = config::parse_go_duration(x.as_string());
          } catch (const std::invalid_argument& ex) {
            fail(x.pos(), ex.what());
          }
        } else {
          fail(x.pos(), fmt::format("error parsing handshake timeout: unsupported type {}", go_type(x)));
        }
      } else if (k == "compress" || k == "compression") w.compression = x.as_bool();
      else if (k == "authorization" || k == "authentication") {
        Duration timeout{0};
        authorization(x, w.user, w.password, w.token, timeout, nullptr);
        w.auth_timeout = timeout;
      } else if (k == "jwt_cookie") {
        w.jwt_cookie = x.as_string();
        // The reference requires trusted operators or keys for it (validateWebsocketOptions),
        // and Pylon has no JWT operator mode: refused here, by name, rather than ignored.
        fail(e.key_pos, fmt::format("trusted operators or trusted keys configuration is required for JWT "
                                    "authentication via cookie \"{}\" (JWT operator mode is not supported by Pylon)",
                                    w.jwt_cookie));
      } else if (k == "no_auth_user") w.no_auth_user = x.as_string();
      else unknown(e);
    }
  }

  // leafnodes { ... }, as the reference's parseLeafNodes: the same keys and aliases. What Pylon
  // does not do yet (hub remotes, deny lists, WebSocket remotes) is refused by name rather than
  // ignored.
  void leafnodes(const Value& v, LeafNodeOptions& l) {
    if (!v.is_map()) fail(v.pos(), fmt::format("Expected map to define a leafnode, got {}", go_type(v)));
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      const Value& x = e.value;
      if (k == "listen") listen(x, l.host, l.port);
      else if (k == "port") l.port = to_int(x, -1, 65535, "port");
      else if (k == "host" || k == "net") l.host = x.as_string();
      else if (k == "leafnode_advertise" || k == "advertise") l.advertise = x.as_string();
      else if (k == "no_advertise") l.no_advertise = x.as_bool();
      else if (k == "reconnect" || k == "reconnect_delay" || k == "reconnect_interval") {
        l.reconnect = std::chrono::seconds(to_int(x, 0, 1 << 30, "reconnect"));  // seconds, as the reference
      } else if (k == "authorization") leaf_authorization(x, l);
      else if (k == "remotes") leaf_remotes(x, l.remotes);
      else if (k == "tls") {
        l.tls = tls(e, server::tls::BlockKind::kLeafnode);
      } else if (k == "min_version" || k == "minimum_version") unsupported(e, "leafnode min_version");
      else unknown(e);
    }
  }

  void leaf_authorization(const Value& v, LeafNodeOptions& l) {
    for (const auto& e : v.as_map()) {
      std::string k = lower(e.key);
      const Value& x = e.value;
      if (k == "user" || k == "username") l.user = x.as_string();
      else if (k == "pass" || k == "password") l.password = x.as_string();
      else if (k == "timeout") l.auth_timeout = auth_timeout(x);
      else if (k == "account") l.account = x.as_string();
      else if (k == "users") {
        if (!x.is_array()) fail(x.pos(), fmt::format("Expected users field to be an array, got {}", go_type(x)));
        for (const auto& u : x.as_array()) {
          if (!u.is_map()) fail(u.pos(), fmt::format("Expected user entry to be a map/struct, got {}", go_type(u)));
          LeafUser lu;
          for (const auto& ue : u.as_map()) {
            std::string uk = lower(ue.key);
            if (uk == "user" || uk == "username") lu.user = ue.value.as_string();
            else if (uk == "pass" || uk == "password") lu.password = ue.value.as_string();
            else if (uk == "account") lu.account = ue.value.as_string();
            else unknown(ue);
          }
          l.users.push_back(std::move(lu));
        }
      } else unknown(e);
    }
    // The reference's validateLeafNodeAuthOptions, at the authorization block.
    if (!l.users.empty()) {
      if (!l.user.empty()) fail(v.pos(), "can not have a single user/pass and a users array");
      for (size_t i = 0; i < l.users.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (l.users[j].user == l.users[i].user) {
            fail(v.pos(), fmt::format("duplicate user \"{}\" detected in leafnode authorization", l.users[i].user));
          }
        }
      }
    }
  }

  void leaf_remotes(const Value& v, std::vector<RemoteLeafOptions>& remotes) {
    if (!v.is_array()) fail(v.pos(), fmt::format("Expected remotes field to be an array, got {}", go_type(v)));
    remotes.clear();
    for (const auto& r : v.as_array()) {
      if (!r.is_map()) fail(r.pos(), fmt::format("Expected remote leafnode entry to be a map/struct, got {}", go_type(r)));
      RemoteLeafOptions ro;
      for (const auto& e : r.as_map()) {
        std::string k = lower(e.key);
        const Value& x = e.value;
        auto add_url = [&](const Value& u) {
          std::string s = u.as_string();
          while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
          while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
          Url parsed;
          try {
            parsed = parse_url(s);
          } catch (const std::invalid_argument&) {
            fail(u.pos(), fmt::format("error parsing leafnode url [\"{}\"]", s));
          }
          if (parsed.scheme == "ws" || parsed.scheme == "wss") unsupported(e, "leafnode connections over WebSocket");
          ro.urls.push_back(s);
        };
        if (k == "url" || k == "urls") {
          if (x.is_array()) {
            for (const auto& u : x.as_array()) add_url(u);
          } else if (x.is_string()) {
            add_url(x);
          } else {
            fail(x.pos(), fmt::format("Expected remote leafnode url to be an array or string, got {}", go_type(x)));
          }
        } else if (k == "account" || k == "local") ro.account = x.as_string();
        else if (k == "no_randomize" || k == "dont_randomize") ro.no_randomize = x.as_bool();
        else if (k == "creds" || k == "credentials") {
          // Read now, so a missing or malformed file stops the start here, at the line that
          // names it (the reference finds out only when it dials). Read again at each dial.
          ro.credentials = expand_path(x);
          try {
            server::read_leaf_credentials(ro.credentials);
          } catch (const std::runtime_error& ex) {
            fail(x.pos(), ex.what());
          }
        } else if (k == "tls") ro.tls = tls(e, server::tls::BlockKind::kLeafRemote);
        else if (k == "hub") unsupported(e, "a remote declared as hub");
        else if (k == "deny_imports" || k == "deny_import" || k == "deny_exports" || k == "deny_export") {
          unsupported(e, "leafnode deny lists");
        } else if (k.starts_with("ws_") || k.starts_with("websocket_")) {
          unsupported(e, "leafnode connections over WebSocket");
        } else if (k == "jetstream_cluster_migrate" || k == "js_cluster_migrate") unsupported(e, "JetStream");
        else unknown(e);
      }
      remotes.push_back(std::move(ro));
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
      else if (k == "leafnodes" || k == "leaf") leafnodes(v, o.leafnodes);
      else if (k == "gateway") unsupported(e, "gateways (super-clusters)");
      else if (k == "websocket" || k == "ws") websocket(v, o.websocket);
      else if (k == "mqtt") unsupported(e, "MQTT");
      else if (k == "accounts") accounts(v, o);
      else if (k == "no_auth_user") {
        o.no_auth_user = v.as_string();
        no_auth_user_pos = v.pos();
      } else if (k == "operator" || k == "operators" || k == "resolver" || k == "trusted" || k == "trusted_keys") {
        unsupported(e, "JWT operator mode");
      } else if (k == "system_account" || k == "system") {
        // The reference reads it first, alone, with this check and words (configureSystemAccount).
        if (!v.is_string()) fail(e.key_pos, "system account name must be a string");
        o.system_account = v.as_string();
      } else if (k == "no_system_account" || k == "no_system" || k == "no_sys_acc") {
        o.no_system_account = v.as_bool();
      }
      else unknown(e);
    }
  }
};

}  // namespace

std::vector<std::string> load_config_file(const std::string& path, Options& opts) {
  Value root = config::parse_file(path);
  Loader l;
  l.top(root, opts);
  l.check_accounts(opts);
  if (!opts.no_auth_user.empty()) {
    try {
      validate_no_auth_user(opts);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(l.no_auth_user_pos, e.what());
    }
  }
  return std::move(l.warnings);
}

}  // namespace pylon::server
