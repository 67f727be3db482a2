#include "client/handshake_json.h"

#include <boost/json.hpp>

#ifndef PYLON_VERSION
#define PYLON_VERSION "0.0.0"
#endif

namespace pylon::client {

namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return {};
}

bool boolean(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

int64_t integer(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) {
    // Converting a double outside int64's range is undefined behaviour (client_info_fuzz found
    // "max_payload":-1e300); such a server is broken, as nats.go's json.Unmarshal would say.
    const double d = v->get_double();
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
      throw Exception(Error::kProtocol, "bad INFO: " + std::string(key) + " out of range");
    }
    return static_cast<int64_t>(d);
  }
  return 0;
}

}  // namespace

ServerInfo parse_info(std::string_view text, bool* tls_required) {
  json::value v;
  try {
    v = json::parse(json::string_view(text.data(), text.size()));
  } catch (const std::exception& e) {
    throw Exception(Error::kProtocol, std::string("bad INFO: ") + e.what());
  }
  if (!v.is_object()) throw Exception(Error::kProtocol, "bad INFO: not a JSON object");
  const auto& o = v.as_object();
  ServerInfo info;
  info.server_id = str(o, "server_id");
  info.server_name = str(o, "server_name");
  info.version = str(o, "version");
  info.host = str(o, "host");
  info.port = static_cast<int>(integer(o, "port"));
  info.proto = static_cast<int>(integer(o, "proto"));
  info.max_payload = integer(o, "max_payload");
  info.headers = boolean(o, "headers");
  info.auth_required = boolean(o, "auth_required");
  info.tls_required = boolean(o, "tls_required");
  info.tls_available = boolean(o, "tls_available");
  info.tls_verify = boolean(o, "tls_verify");
  info.lame_duck = boolean(o, "ldm");
  info.cluster = str(o, "cluster");
  info.client_id = static_cast<uint64_t>(integer(o, "client_id"));
  info.client_ip = str(o, "client_ip");
  info.nonce = str(o, "nonce");
  if (auto* urls = o.if_contains("connect_urls"); urls && urls->is_array()) {
    for (const auto& u : urls->get_array()) {
      if (u.is_string()) info.connect_urls.emplace_back(u.get_string());
    }
  }
  if (tls_required) *tls_required = info.tls_required;
  return info;
}

std::string connect_json(const ClientOptions& opts, const ServerUrl& server, bool tls, std::string_view nkey,
                         std::string_view sig) {
  json::object o;
  o["verbose"] = opts.verbose;
  o["pedantic"] = opts.pedantic;
  o["tls_required"] = tls;
  if (!opts.name.empty()) o["name"] = opts.name;
  o["lang"] = kClientLang;
  o["version"] = PYLON_VERSION;
  o["protocol"] = 1;
  o["echo"] = opts.echo;
  o["headers"] = true;
  o["no_responders"] = opts.no_responders;
  if (!server.user.empty()) {
    if (server.has_password) {
      o["user"] = server.user;
      o["pass"] = server.password;
    } else {
      o["auth_token"] = server.user;
    }
  } else if (!opts.user.empty()) {
    o["user"] = opts.user;
    o["pass"] = opts.password;
  } else if (!opts.token.empty()) {
    o["auth_token"] = opts.token;
  }
  if (!nkey.empty()) {  // beside any other credentials, as nats.go sends it
    o["nkey"] = nkey;
    o["sig"] = sig;
  }
  return json::serialize(o);
}

}  // namespace pylon::client
