#include "server/monitor/monitor.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <cmath>
#include <future>
#include <stdexcept>
#include <unordered_map>

#include "server/accept_peer.h"
#include "server/client/client_conn.h"
#include "server/core/event_loop.h"
#include "server/core/listen_address.h"
#include "server/monitor/dashboard.h"
#include "server/monitor/format.h"
#include "server/monitor/metrics.h"
#include "server/server.h"
#include "server/tls/tls_context.h"

namespace pylon::server::monitor {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

namespace {
constexpr auto kIdleTimeout = std::chrono::seconds(30);  // an idle keep-alive HTTP connection is closed

constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kHtml = "text/html; charset=utf-8";

std::string join_host_port(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string index_html(const Server& server) {
  // Our own page: the endpoints this server answers, as links relative to the index.
  static constexpr const char* kLinks[][2] = {
      {"varz", "General"}, {"connz", "Connections"}, {"subsz", "Subscriptions"},
      {"routez", "Routes"}, {"leafz", "Leaf Nodes"}, {"accountz", "Accounts"}, {"accstatz", "Account Stats"}, {"healthz", "Health Probe"}, {"metrics", "Prometheus Metrics"},
      {"dashboard", "Dashboard"},
  };
  std::string links;
  for (const auto& l : kLinks) links += fmt::format("  <a href=\"./{}\">{}</a>\n", l[0], l[1]);
  return fmt::format(
      "<html lang=\"en\">\n<head>\n<title>Pylon monitoring</title>\n<style type=\"text/css\">\n"
      "  body {{ font-family: ui-sans-serif, system-ui, sans-serif; margin-left: 32px }}\n"
      "  a {{ display: block; margin-left: 7px; padding-bottom: 6px; text-decoration: none }}\n"
      "  a:hover {{ font-weight: 600 }}\n"
      "</style>\n</head>\n<body>\n<h2>Pylon {} (NATS protocol of nats-server {})</h2>\n<p>Server {}</p>\n{}"
      "</body>\n</html>\n",
      kPylonVersion, kNatsCompatVersion, server.name(), links);
}
}  // namespace

// ---- one HTTP connection ------------------------------------------------------------------

// What the listener and stop() need of a session, whichever stream it reads.
class Monitor::Session {
 public:
  virtual ~Session() = default;
  virtual void start() = 0;
  virtual void close() = 0;  // any thread
};

namespace {

// Asio's ssl::stream rather than beast::ssl_stream: the latter's buffered async_handshake (the bytes
// async_detect_ssl already read) is constrained to the wrong signature in Boost 1.81.
using TlsStream = asio::ssl::stream<beast::tcp_stream>;

template <class Stream>
constexpr bool kSecure = std::is_same_v<Stream, TlsStream>;

// The first five bytes of a plaintext HTTP request, where a TLS record header should be: Go's
// tlsRecordHeaderLooksLikeHTTP, which decides whether the reference answers with a 400.
bool looks_like_http(std::string_view hdr) {
  for (std::string_view m : {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"})
    if (hdr.substr(0, 5) == m) return true;
  return false;
}
// Go's net/http answer to plaintext on a TLS listener, byte for byte.
constexpr std::string_view kPlainToHttps =
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

}  // namespace

// One HTTP connection over Stream: beast::tcp_stream (http) or TlsStream (https). A template, so
// plain HTTP pays nothing for TLS: its session is the same code it was before HTTPS existed.
template <class Stream>
class HttpSession final : public Monitor::Session, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Monitor& mon, EventLoop& loop, tcp::socket sock, const tcp::endpoint& peer) requires(!kSecure<Stream>)
      : mon_(mon), loop_(loop), peer_(peer), stream_(std::move(sock)) {}
  // The session keeps `tls` (the context it handshakes with) for its whole life.
  HttpSession(Monitor& mon, EventLoop& loop, tcp::socket sock, const tcp::endpoint& peer,
              std::shared_ptr<const tls::Context> tls)
    requires(kSecure<Stream>)
      : mon_(mon), loop_(loop), peer_(peer), tls_(std::move(tls)), stream_(std::move(sock), tls_->native()) {
    // As the reference's monitor (ClientAuth = NoClientCert): the tls block's `verify` is for
    // clients of the NATS port, never for a browser or curl.
    stream_.set_verify_mode(asio::ssl::verify_none);
  }

  void start() override {
    asio::post(loop_.ctx(), [self = this->shared_from_this()] {
      if constexpr (kSecure<Stream>) {
        self->detect();
      } else {
        self->read();
      }
    });
  }

  void close() override {
    asio::post(loop_.ctx(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  tcp::socket& socket() { return beast::get_lowest_layer(stream_).socket(); }
  void close_now() {
    beast::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
  }
  void expires_after(std::chrono::seconds d) { beast::get_lowest_layer(stream_).expires_after(d); }

  // HTTPS: look at the first bytes. A TLS handshake goes on (with the bytes already read); a
  // plaintext HTTP request gets Go's 400; anything else is logged as the reference's
  // captured http.Server log ("monitoring: TLS handshake error from ...") and closed.
  void detect() requires(kSecure<Stream>) {
    expires_after(kIdleTimeout);
    beast::async_detect_ssl(beast::get_lowest_layer(stream_), buf_,
                            [self = this->shared_from_this()](beast::error_code ec, bool is_tls) {
                              if (ec) return self->handshake_failed(ec.message());
                              if (is_tls) return self->handshake();
                              self->plaintext();
                            });
  }

  void handshake() requires(kSecure<Stream>) {
    stream_.async_handshake(asio::ssl::stream_base::server, buf_.data(),
                            [self = this->shared_from_this()](beast::error_code ec, size_t used) {
                              if (ec) return self->handshake_failed(ec.message());
                              self->buf_.consume(used);
                              self->read();
                            });
  }

  void plaintext() requires(kSecure<Stream>) {
    // The whole record header (5 bytes) decides, as in Go; fewer arrive only from a peer that
    // stops early, which the deadline ends.
    if (buf_.size() < 5) {
      auto& raw = beast::get_lowest_layer(stream_);
      raw.async_read_some(buf_.prepare(5 - buf_.size()),
                          [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                            if (ec) return self->handshake_failed(ec.message());
                            self->buf_.commit(n);
                            self->plaintext();
                          });
      return;
    }
    std::string_view head(static_cast<const char*>(buf_.data().data()), buf_.size());
    if (!looks_like_http(head)) return handshake_failed("tls: first record does not look like a TLS handshake");
    asio::async_write(beast::get_lowest_layer(stream_), asio::buffer(kPlainToHttps.data(), kPlainToHttps.size()),
                      [self = this->shared_from_this()](beast::error_code, size_t) { self->close_now(); });
  }

  void handshake_failed(const std::string& why) {
    mon_.server_.log().peer_error("monitoring: TLS handshake error from {}: {}",
                                  join_host_port(peer_.address().to_string(), peer_.port()), why);
    close_now();
  }

  void read() {
    req_ = {};
    expires_after(kIdleTimeout);
    http::async_read(stream_, buf_, req_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      close_now();  // the peer left, timed out, or sent something that is not HTTP
      return;
    }
    if (!mon_.running_.load()) {
      close_now();
      return;
    }
    std::string target(req_.target());
    mon_.handle(target, loop_,
                [self = this->shared_from_this()](unsigned status, std::string type, std::string body) {
                  self->respond(status, std::move(type), std::move(body));
                });
  }

  void respond(unsigned status, std::string type, std::string body) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), req_.version());
    res->set(http::field::content_type, type);
    // Any origin may read our JSON (the dashboard of one node polls all the others). The
    // reference sends no CORS header but answers JSONP, which already lets any page read it,
    // so this exposes nothing new.
    if (type == kJson) res->set(http::field::access_control_allow_origin, "*");
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    if (req_.method() == http::verb::head) res->body().clear();  // Content-Length stays
    expires_after(kIdleTimeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) {
        if constexpr (kSecure<Stream>) {
          // close_notify, then the socket (bounded by the stream's deadline).
          if (!ec) {
            return self->stream_.async_shutdown([self](beast::error_code) { self->close_now(); });
          }
        } else {
          beast::error_code ignored;
          self->socket().shutdown(tcp::socket::shutdown_send, ignored);
        }
        self->close_now();
        return;
      }
      self->read();
    });
  }

  Monitor& mon_;
  EventLoop& loop_;
  tcp::endpoint peer_;  // as accept() gave it (accept_peer.h): the socket may have lost it
  std::shared_ptr<const tls::Context> tls_;  // https only; declared before stream_, which uses it
  Stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
};

// ---- the listener -------------------------------------------------------------------------

Monitor::Monitor(Server& server) : server_(server) {}

Monitor::~Monitor() { stop(); }

void Monitor::start() {
  const Options& opts = server_.options();
  // The reference's StartMonitoring checks, and its words.
  if (opts.http_port != 0 && opts.https_port != 0) {
    throw std::runtime_error(fmt::format("Can't start monitoring: can't specify both HTTP ({}) and HTTPs ({}) ports",
                                         opts.http_port, opts.https_port));
  }
  secure_ = opts.https_port != 0;
  if (secure_) {
    tls_ = server_.client_tls();
    if (!tls_) throw std::runtime_error("Can't start monitoring: TLS cert and key required for HTTPS");
  }
  host_ = opts.http_host.empty() ? opts.host : opts.http_host;
  if (host_.empty()) host_ = "0.0.0.0";
  auto& ctx = server_.loop(0).ctx();
  boost::system::error_code ec;
  auto addr = listen_address(ctx, host_, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("Can't listen to the monitor port: listen tcp: lookup {}: {}", host_, ec.message()));
  }
  int configured = secure_ ? opts.https_port : opts.http_port;
  int want = configured < 0 ? 0 : configured;
  auto acc = std::make_unique<tcp::acceptor>(ctx);
  tcp::endpoint ep(addr, static_cast<unsigned short>(want));
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("Can't listen to the monitor port: listen tcp {}: {}",
                                         join_host_port(host_, want), ec.message()));
  }
  port_ = acc->local_endpoint().port();
  acceptor_ = std::move(acc);
  server_.log().info("Starting {} monitor on {}", secure_ ? "https" : "http", join_host_port(host_, port_));
  running_ = true;
  asio::post(ctx, [this] { do_accept(); });
}

std::shared_ptr<const tls::Context> Monitor::current_tls() {
  // The server's client context, which a reload swaps: its certificates serve the connections
  // accepted from then on, as the reference's GetConfigForClient. A reload that turned client
  // TLS off leaves HTTPS with the context it had.
  if (auto ctx = server_.client_tls()) tls_ = std::move(ctx);
  return tls_;
}

void Monitor::stop() {
  if (!running_.exchange(false)) return;
  EventLoop& loop0 = server_.loop(0);
  auto close_acceptor = [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
  };
  if (loop0.in_loop()) {
    close_acceptor();
  } else {
    std::promise<void> done;
    asio::post(loop0.ctx(), [&] {
      close_acceptor();
      done.set_value();
    });
    done.get_future().wait();
  }
  std::vector<std::weak_ptr<Session>> sessions;
  {
    std::lock_guard lk(mu_);
    sessions.swap(sessions_);
  }
  for (auto& w : sessions) {
    if (auto s = w.lock()) s->close();
  }
}

void Monitor::do_accept() {
  EventLoop& loop = server_.next_loop();
  async_accept_with_peer(*acceptor_, loop.ctx(), [this, &loop](const boost::system::error_code& ec, tcp::socket sock,
                                                                const tcp::endpoint& peer) {
    if (!running_.load()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // The connection stays in the backlog: back off rather than spin (accept_backoff.h).
      auto sleep = accept_backoff_.next_sleep();
      server_.log().error("Temporary Monitoring Accept Error({}), sleeping {}ms", ec.message(), sleep.count());
      auto t = std::make_shared<asio::steady_timer>(server_.loop(0).ctx(), sleep);
      t->async_wait([this, t](const boost::system::error_code&) {
        if (running_.load()) do_accept();
      });
      return;
    }
    accept_backoff_.reset();
    std::shared_ptr<Session> s;
    if (secure_) {
      s = std::make_shared<HttpSession<TlsStream>>(*this, loop, std::move(sock), peer, current_tls());
    } else {
      s = std::make_shared<HttpSession<beast::tcp_stream>>(*this, loop, std::move(sock), peer);
    }
    {
      std::lock_guard lk(mu_);
      // Forget finished sessions now and then, so the list stays as long as the open ones.
      if (sessions_.size() >= 64) {
        std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
      }
      sessions_.push_back(s);
    }
    s->start();
    do_accept();
  });
}

// ---- requests -----------------------------------------------------------------------------

void Monitor::count_request(const std::string& path) {
  std::lock_guard lk(mu_);
  ++req_stats_[path];
}

std::map<std::string, uint64_t> Monitor::req_stats() {
  std::lock_guard lk(mu_);
  return req_stats_;
}

void Monitor::handle(const std::string& target, EventLoop& home, Reply reply) {
  Query q(target);
  const std::string& path = q.path();
  std::string callback = q.get("callback");
  // JSON answers honour ?callback= (JSONP), as the reference's ResponseHandler.
  auto send_json = [reply, callback](const json::value& v, bool indent = true) {
    std::string body = indent ? pretty(v) : json::serialize(v);
    if (!callback.empty()) {
      reply(200, "application/javascript", fmt::format("{}({})", callback, body));
    } else {
      reply(200, kJson, std::move(body));
    }
  };
  auto bad_request = [reply](const std::string& text) { reply(400, kText, text); };
  auto now = [] { return std::chrono::system_clock::now(); };
  std::string err;

  if (path == "/") {
    count_request("/");
    reply(200, kHtml, index_html(server_));
  } else if (path == "/varz") {
    count_request("/varz");  // before the copy, so this request counts itself, as the reference
    send_json(current_varz(server_, now()));
  } else if (path == "/connz") {
    ConnzOptions opts;
    if (!parse_connz(q, &opts, &err)) return bad_request(err);
    count_request("/connz");
    build_connz_async(server_, opts, home, [send_json](json::object o) { send_json(o); });
  } else if (path == "/routez") {
    count_request("/routez");
    std::string subs = q.get("subs");
    int mode = 0;
    if (subs == "detail" || subs == "Detail" || subs == "DETAIL") {
      mode = 2;
    } else {
      auto b = q.get_bool("subs", &err);
      if (!b) return bad_request(err);
      mode = *b ? 1 : 0;
    }
    send_json(build_routez(server_, now(), mode));
  } else if (path == "/leafz") {
    count_request("/leafz");
    auto b = q.get_bool("subs", &err);
    if (!b) return bad_request(err);
    send_json(build_leafz(server_, now(), *b, q.get("acc")));
  } else if (path == "/subsz" || path == "/subscriptionsz") {
    count_request("/subsz");
    SubszOptions opts;
    if (!parse_subsz(q, &opts, &err)) return bad_request(err);
    send_json(build_subsz(server_, now(), opts));
  } else if (path == "/accountz") {
    count_request("/accountz");
    json::object o = build_accountz(server_, now(), q.get("acc"), &err);
    if (!err.empty()) return bad_request(err);
    send_json(o);
  } else if (path == "/accstatz") {
    count_request("/accstatz");
    auto unused = q.get_bool("unused", &err);
    if (!unused) return bad_request(err);
    send_json(build_accstatz(server_, now(), *unused));
  } else if (path == "/healthz") {
    count_request("/healthz");
    for (const char* p : {"js-enabled", "js-enabled-only", "js-server-only"}) {
      if (!q.get_bool(p, &err)) return bad_request(err);
    }
    json::object h = build_healthz(server_);
    if (h.contains("error")) {
      reply(503, kJson, json::serialize(h));
    } else {
      send_json(h, /*indent=*/false);
    }
  } else if (path == "/metrics") {
    count_request("/metrics");  // before the copy, so this scrape counts itself, as /varz does
    reply(200, kMetricsContentType, build_metrics(server_, now(), req_stats()));
  } else if (is_dashboard_path(path)) {
    count_request("/dashboard");
    if (const DashboardAsset* a = find_dashboard_asset(path)) {
      reply(200, std::string(a->content_type), std::string(a->body));
    } else {
      reply(404, kText, "404 page not found\n");
    }
  } else {
    reply(404, kText, "404 page not found\n");
  }
}

}  // namespace pylon::server::monitor
