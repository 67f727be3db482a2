// CONNECT and INFO JSON (proto/go_json.h and its two users): whatever the bytes, decoding
// returns a struct or Go's error text and never throws (an exception would end the fuzzer
// like it ended the server: issue 10's `{"port":1.5}`). A decoded struct written back as
// JSON decodes to the same struct.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/go_json.h"
#include "server/client/connect_json.h"
#include "server/route/route_info.h"

namespace {

void quote(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

std::string encode(const pylon::server::ClientConnect& c) {
  std::string j = "{";
  auto str = [&](const char* k, const std::string& v) {
    j += '"';
    j += k;
    j += "\":";
    quote(j, v);
    j += ',';
  };
  auto b = [&](const char* k, bool v) { j += std::string("\"") + k + "\":" + (v ? "true," : "false,"); };
  b("echo", c.echo); b("verbose", c.verbose); b("pedantic", c.pedantic); b("tls_required", c.tls_required);
  str("nkey", c.nkey); str("jwt", c.jwt); str("sig", c.sig); str("auth_token", c.auth_token); str("user", c.user);
  str("pass", c.pass); str("name", c.name); str("lang", c.lang); str("version", c.version); str("account", c.account);
  b("new_account", c.new_account); b("headers", c.headers); b("no_responders", c.no_responders);
  j += "\"protocol\":" + std::to_string(c.protocol) + "}";
  return j;
}

bool same(const pylon::server::ClientConnect& a, const pylon::server::ClientConnect& b) {
  return a.echo == b.echo && a.verbose == b.verbose && a.pedantic == b.pedantic && a.tls_required == b.tls_required &&
         a.nkey == b.nkey && a.jwt == b.jwt && a.sig == b.sig && a.auth_token == b.auth_token && a.user == b.user &&
         a.pass == b.pass && a.name == b.name && a.lang == b.lang && a.version == b.version &&
         a.account == b.account && a.new_account == b.new_account && a.headers == b.headers &&
         a.no_responders == b.no_responders && a.protocol == b.protocol;
}

std::string encode(const pylon::server::RouteInfo& i) {
  std::string j = "{\"server_id\":";
  quote(j, i.id);
  j += ",\"server_name\":";
  quote(j, i.name);
  j += ",\"cluster\":";
  quote(j, i.cluster);
  j += ",\"port\":" + std::to_string(i.port) + ",\"max_payload\":" + std::to_string(i.max_payload);
  j += std::string(",\"ldm\":") + (i.ldm ? "true" : "false") + ",\"connect_urls\":[";
  for (size_t k = 0; k < i.connect_urls.size(); ++k) {
    if (k) j += ',';
    quote(j, i.connect_urls[k]);
  }
  return j + "]}";
}

[[noreturn]] void fail(const char* what, std::string_view input, const std::string& detail) {
  std::fprintf(stderr, "%s\ninput: %.*s\n%s\n", what, static_cast<int>(input.size()), input.data(), detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  using namespace pylon::server;

  const auto syntax = pylon::proto::gojson::syntax_error(json);

  ClientConnect c;
  const auto ce = decode_client_connect(json, c);
  // Go checks the syntax of the whole text before it decodes anything.
  if (syntax && ce != syntax) fail("syntax error not reported first", json, *syntax);
  if (ce && ce->empty()) fail("empty error text", json, "");
  if (!ce) {
    ClientConnect again;
    const std::string j = encode(c);
    if (auto e = decode_client_connect(j, again)) fail("re-encoded CONNECT does not decode", json, j + "\n" + *e);
    if (!same(c, again)) fail("re-encoded CONNECT decodes differently", json, j);
  }

  RouteInfo info;
  const auto ie = decode_route_info(json, info);
  if (syntax && ie != syntax) fail("syntax error not reported first", json, *syntax);
  if (!ie) {
    RouteInfo again;
    const std::string j = encode(info);
    if (auto e = decode_route_info(j, again)) fail("re-encoded INFO does not decode", json, j + "\n" + *e);
    if (again.id != info.id || again.name != info.name || again.cluster != info.cluster || again.port != info.port ||
        again.max_payload != info.max_payload || again.ldm != info.ldm || again.connect_urls != info.connect_urls) {
      fail("re-encoded INFO decodes differently", json, j);
    }
  }

  RouteConnect rc;
  const auto re = decode_route_connect(json, rc);
  // A route's CONNECT is read as a client's first: what fails there fails here the same.
  if (ce && re != ce) fail("route CONNECT error differs from the ClientOpts one", json, *ce);
  return 0;
}
