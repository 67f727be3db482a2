#include "http_get.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <exception>
#include <optional>

namespace pylon::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
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
enum class Step { kResolve, kConnect, kHandshake, kExchange };

template <typename Stream>
asio::awaitable<void> get(Stream& stream, const std::string& hostport, const std::string& target, HttpReply& out) {
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
}

// `ctx` is null for plain HTTP. `verify_result` gets OpenSSL's verdict on the server's
// certificate when the handshake fails.
asio::awaitable<void> exchange(const std::string& host, const std::string& port, const std::string& hostport,
                               const std::string& target, ssl::context* ctx, bool insecure, HttpReply& out,
                               Step& step, long& verify_result) {
  auto ex = co_await asio::this_coro::executor;
  step = Step::kResolve;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(host, port, asio::use_awaitable);

  step = Step::kConnect;
  tcp::socket socket(ex);
  co_await asio::async_connect(socket, endpoints, asio::use_awaitable);

  if (ctx == nullptr) {
    step = Step::kExchange;
    co_await get(socket, hostport, target, out);
  } else {
    step = Step::kHandshake;
    ssl::stream<tcp::socket&> tls(socket, *ctx);
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    if (ec) ::SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());  // SNI for a name, not an address
    if (!insecure) {
      tls.set_verify_mode(ssl::verify_peer);
      tls.set_verify_callback(ssl::host_name_verification(host));
    }
    try {
      co_await tls.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    } catch (const boost::system::system_error&) {
      verify_result = ::SSL_get_verify_result(tls.native_handle());
      throw;
    }
    step = Step::kExchange;
    co_await get(tls, hostport, target, out);
    // The server closes (Connection: close); its close_notify is not awaited.
  }
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

// A refused certificate in the words of Go's crypto/x509, as nats-top would print it.
std::string verify_failure(long v, const std::string& host) {
  switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "x509: certificate signed by unknown authority";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "x509: certificate has expired or is not yet valid";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "x509: certificate is not valid for " + host;
    default:
      return std::string("x509: ") + X509_verify_cert_error_string(v);
  }
}

}  // namespace

HttpReply http_get(const std::string& host, int port, const std::string& target,
                   std::chrono::milliseconds timeout, const HttpTls& tls) {
  const std::string port_str = std::to_string(port);
  // An IPv6 literal is bracketed in a URL and in the Host header.
  const std::string hostport = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port_str;
  const std::string prefix = std::string("Get \"") + (tls.enabled ? "https" : "http") + "://" + hostport + target + "\": ";

  std::optional<ssl::context> ctx;
  if (tls.enabled) {
    ctx.emplace(ssl::context::tls_client);
    ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1);
    const char* file = "";
    try {
      if (!tls.ca_file.empty()) {
        file = "CA file";
        ctx->load_verify_file(tls.ca_file);
      } else {
        ctx->set_default_verify_paths();
      }
      if (!tls.cert_file.empty()) {
        file = "certificate";
        ctx->use_certificate_chain_file(tls.cert_file);
        file = "key";
        ctx->use_private_key_file(tls.key_file.empty() ? tls.cert_file : tls.key_file, ssl::context::pem);
      }
    } catch (const boost::system::system_error& e) {
      throw HttpError(std::string("cannot use the TLS ") + file + ": " + e.code().message());
    }
  }

  // Declared before the io_context so that they outlive it: destroying the context
  // destroys an unfinished coroutine, which holds references to them.
  HttpReply reply;
  Step step = Step::kResolve;
  long verify_result = X509_V_OK;
  std::exception_ptr failure;
  bool done = false;
  asio::io_context ioc;
  asio::co_spawn(ioc,
                 exchange(host, port_str, hostport, target, ctx ? &*ctx : nullptr, tls.insecure, reply, step,
                          verify_result),
                 [&](std::exception_ptr e) {
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
      case Step::kHandshake:
        if (verify_result != X509_V_OK) {
          throw HttpError(prefix + "tls: failed to verify certificate: " + verify_failure(verify_result, host));
        }
        throw HttpError(prefix + "tls: " + why);
      case Step::kExchange: throw HttpError(prefix + why);
    }
  }
  return reply;
}

}  // namespace pylon::tools
