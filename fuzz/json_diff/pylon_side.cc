// Pylon's side of the JSON differential check (fuzz/json_diff/run.sh): the same output as
// oracle.go, from decode_client_connect, decode_route_info and decode_route_connect.
#include <cstdio>
#include <iostream>
#include <string>

#include "server/client/connect_json.h"
#include "server/route/route_info.h"

namespace {
std::string hex(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}
int b(bool v) { return v ? 1 : 0; }
}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::string in;
    for (size_t i = 0; i + 1 < line.size(); i += 2) in += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
    using namespace pylon::server;
    ClientConnect c;
    if (auto e = decode_client_connect(in, c)) {
      std::cout << "connect: " << *e << "\n";
    } else {
      std::cout << "connect: <nil> " << b(c.echo) << b(c.verbose) << b(c.pedantic) << b(c.tls_required) << b(c.headers)
                << b(c.no_responders) << " " << c.protocol << " " << hex(c.name) << " " << hex(c.lang) << " "
                << hex(c.version) << " " << hex(c.user) << " " << hex(c.pass) << " " << hex(c.auth_token) << " "
                << hex(c.account) << "\n";
    }
    RouteInfo i;
    if (auto e = decode_route_info(in, i)) {
      std::cout << "info: " << *e << "\n";
    } else {
      std::cout << "info: <nil> " << hex(i.id) << " " << hex(i.name) << " " << hex(i.version) << " " << hex(i.cluster)
                << " " << hex(i.host) << " " << i.port << " " << i.proto << " " << i.max_payload << " " << b(i.headers)
                << b(i.auth_required) << b(i.dynamic) << b(i.lnoc) << b(i.ldm) << " [";
      for (const auto& u : i.connect_urls) std::cout << hex(u) << ",";
      std::cout << "]\n";
    }
    RouteConnect r;
    if (auto e = decode_route_connect(in, r)) {
      std::cout << "route: " << *e << "\n";
    } else if (!r.lang.empty()) {
      std::cout << "route: lang\n";
    } else {
      std::cout << "route: <nil> " << b(r.echo) << b(r.verbose) << b(r.pedantic) << b(r.headers) << b(r.dynamic)
                << b(r.lnoc) << " " << hex(r.name) << " " << hex(r.cluster) << " " << hex(r.user) << " " << hex(r.pass)
                << "\n";
    }
  }
  return 0;
}
