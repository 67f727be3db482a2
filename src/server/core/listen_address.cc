#include "server/core/listen_address.h"

#include <boost/asio/ip/tcp.hpp>

namespace pylon::server {

boost::asio::ip::address listen_address(boost::asio::io_context& ctx, const std::string& host,
                                        boost::system::error_code& ec) {
  namespace ip = boost::asio::ip;
  ec.clear();
  auto literal = ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (!ec) return literal;
  ec.clear();
  ip::tcp::resolver resolver(ctx);
  auto results = resolver.resolve(host, "", ec);
  if (ec) return {};
  if (results.empty()) {
    ec = boost::asio::error::host_not_found;
    return {};
  }
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) return r.endpoint().address();
  }
  return results.begin()->endpoint().address();
}

}  // namespace pylon::server
