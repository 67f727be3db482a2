// Accepting a connection together with the peer's address, as accept(2) reported it.
//
// A peer that resets its connection before the server has set it up (it sat in the listen
// backlog while the server was busy or stopped, or a health check that connects and resets)
// has no address left to ask the socket for: getpeername fails with ENOTCONN, and every log
// line about the connection said ":0". The reference logs the address it accepted (Go keeps
// the accept's RemoteAddr), so the listeners keep it too and hand it to the connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <utility>

namespace pylon::server {

// One accept on `acceptor`, the new socket's I/O on `ctx`; `handler(ec, socket, peer)`.
template <class ExecutionContext, class Handler>
void async_accept_with_peer(boost::asio::ip::tcp::acceptor& acceptor, ExecutionContext& ctx, Handler handler) {
  // On the heap: it must outlive this call, until the accept completes.
  auto peer = std::make_shared<boost::asio::ip::tcp::endpoint>();
  acceptor.async_accept(ctx, *peer,
                        [peer, handler = std::move(handler)](const boost::system::error_code& ec,
                                                             boost::asio::ip::tcp::socket socket) mutable {
                          handler(ec, std::move(socket), *peer);
                        });
}

}  // namespace pylon::server
