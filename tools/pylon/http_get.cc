#include "http_get.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <exception>

namespace pylon::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// /connz of a busy server with subscription lists can be large; refuse anything absurd.
constexpr size_t kMaxBody = 256u << 20;

// Go's wording starts errors in lower case ("connection refused"); asio's messages are
// capitalised ("Connection refused").
std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

// Which step failed, for the error text.
enum class Step { kResolve, kConnect, kExchange };

asio::awaitable<void> exchange(const std::string& host, const std::string& port, const std::string& hostport,
                               const std::string& target, HttpReply& out, Step& step) {
  auto ex = co_await asio::this_coro::executor;
  step = Step::kResolve;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(host, port, asio::use_awaitable);

  step = Step::kConnect;
  beast::tcp_stream stream(ex);
  co_await stream.async_connect(endpoints, asio::use_awaitable);

  step = Step::kExchange;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, hostport);
  req.set(http::field::user_agent, "pylon-top");
  req.set(http::field::connection, "close");
  co_await http::async_write(stream, req, asio::use_awaitable);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  out.reason = std::string(res.reason());
  out.body = std::move(res.body());

  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

HttpReply http_get(const std::string& host, int port, const std::string& target,
                   std::chrono::milliseconds timeout) {
  const std::string port_str = std::to_string(port);
  // An IPv6 literal is bracketed in a URL and in the Host header.
  const std::string hostport = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port_str;
  const std::string prefix = "Get \"http://" + hostport + target + "\": ";

  // Declared before the io_context so that they outlive it: destroying the context
  // destroys an unfinished coroutine, which holds references to them.
  HttpReply reply;
  Step step = Step::kResolve;
  std::exception_ptr failure;
  bool done = false;
  asio::io_context ioc;
  asio::co_spawn(ioc, exchange(host, port_str, hostport, target, reply, step), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  // One deadline for everything: run_for returns when the exchange finished or time is up;
  // destroying the io_context then closes whatever socket is still open.
  ioc.run_for(timeout);
  if (!done) {
    throw HttpError(prefix + "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
  }
  if (failure) {
    std::string why;
    try {
      std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
      why = lower_first(e.code().message());
    } catch (const std::exception& e) {
      why = e.what();
    }
    switch (step) {
      case Step::kResolve: throw HttpError(prefix + "dial tcp: lookup " + host + ": " + why);
      case Step::kConnect: throw HttpError(prefix + "dial tcp " + hostport + ": connect: " + why);
      case Step::kExchange: throw HttpError(prefix + why);
    }
  }
  return reply;
}

}  // namespace pylon::tools
