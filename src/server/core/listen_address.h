// The address a listener binds for a configured host, as nats-server picks it (Go's
// net.Listen): a literal IP as written; a host name resolved, taking its first IPv4 address
// when it has one, else its first address. Debian's /etc/hosts names localhost both
// 127.0.0.1 and ::1, and the resolver lists ::1 first: binding the first result would put
// `listen: localhost:4222` on [::1] only, where clients of 127.0.0.1 cannot reach it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

#include <string>

namespace pylon::server {

// Empty host: 0.0.0.0. On failure, ec is set (for "lookup <host>: <ec.message()>").
boost::asio::ip::address listen_address(boost::asio::io_context& ctx, const std::string& host,
                                        boost::system::error_code& ec);

}  // namespace pylon::server
