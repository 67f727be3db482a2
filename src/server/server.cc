#include "server/server.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

#include <ifaddrs.h>
#include <netinet/in.h>

#include "proto/writer.h"
#include "server/accept_peer.h"
#include "server/account/system_account.h"
#include "server/client/auth.h"
#include "server/client/client_conn.h"
#include "server/client/nkeys.h"
#include "server/route/cluster.h"
#include "server/core/listen_address.h"
#include "server/route/route_conn.h"
#include "server/config/duration.h"
#include "server/monitor/monitor.h"
#include "server/config/url.h"
#include "server/config/config_loader.h"
#include "server/tls/tls_context.h"
#include "server/websocket/upgrade.h"
#include "server/leafnode/leafnodes.h"

namespace pylon::server {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;

Server::Server(Options opts, std::shared_ptr<Logger> log)
    : log_(log ? std::move(log) : std::make_shared<Logger>()), id_(make_server_nkey_id()) {
  generations_.push_back(std::move(opts));
  current_.store(&generations_.back());
  name_ = options().server_name.empty() ? id_ : options().server_name;
  int n = options().event_loops > 0 ? options().event_loops : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  auto on_escape = [log = log_](int loop, std::string_view what) {
    log->error("Unexpected exception on event loop {}: {} (the loop goes on)", loop, what);
  };
  for (int i = 0; i < n; ++i) loops_.push_back(std::make_unique<EventLoop>(i, on_escape));
  accounts_.configure(options());
  cluster_ = std::make_unique<Cluster>(*this);
  leafnodes_ = std::make_unique<Leafnodes>(*this);
  client_tls_ = make_client_tls(options());  // a bad certificate stops the start
}

std::shared_ptr<const tls::Context> Server::make_client_tls(const Options& o) {
  if (!o.tls.enabled) return nullptr;
  return tls::Context::make(o.tls, tls::ContextKind::kClient);
}

std::shared_ptr<const tls::Context> Server::client_tls() const {
  std::lock_guard lk(tls_mu_);
  return client_tls_;
}

Server::~Server() {
  shutdown();
  // shutdown() woke a waiting lame-duck thread; let it leave before the members it uses go.
  if (lame_duck_thread_.joinable()) lame_duck_thread_.join();
}

std::string Server::client_url() const {
  std::string host = options().host;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  return fmt::format("nats://{}:{}", host, port_);
}

void Server::start() {
  start_time_ = std::chrono::system_clock::now();
  log_->info("Starting pylon-server");
  log_->info("  Version:  {} (NATS protocol of nats-server {})", kPylonVersion, kNatsCompatVersion);
  if (!options().cluster.name.empty()) log_->info("  Cluster:  {}", options().cluster.name);
  log_->info("  Name:     {}", name_);
  log_->info("  ID:       {}", id_);
  warn_of_plaintext_passwords();
  if (!options().config_file.empty()) log_->info("Using configuration file: {}", options().config_file);

  for (auto& l : loops_) l->start();

  auto& ctx = loops_[0]->ctx();
  boost::system::error_code ec;
  auto addr = listen_address(ctx, options().host, ec);
  if (ec) {  // the reference's words: Error listening on port: h:p, "listen tcp: lookup h: ..."
    for (auto& l : loops_) l->stop();
    throw std::runtime_error(fmt::format("Error listening on port: {}:{}, \"listen tcp: lookup {}: {}\"", options().host,
                                         std::max(options().port, 0), options().host, ec.message()));
  }
  if (options().websocket.enabled()) {
    // As the reference: the websocket listener before the client listener.
    try {
      start_websocket();
    } catch (...) {
      for (auto& l : loops_) l->stop();
      throw;
    }
  }
  int want_port = options().port < 0 ? 0 : options().port;
  acceptor_ = std::make_unique<tcp::acceptor>(ctx);
  tcp::endpoint ep(addr, static_cast<unsigned short>(want_port));
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    for (auto& l : loops_) l->stop();
    throw std::runtime_error(
        fmt::format("Error listening on port: {}:{}, \"{}\"", options().host, want_port, ec.message()));
  }
  port_ = acceptor_->local_endpoint().port();
  log_->info("Listening for client connections on {}:{}", options().host, port_);
  if (options().tls.enabled) {
    log_->info("TLS required for client connections");
    if (options().tls.handshake_first) {
      log_->warn("Clients that are not using \"TLS Handshake First\" option will fail to connect");
    }
  }
  running_ = true;
  usage_sampler_.sample();  // the first CPU reading: /varz's first `cpu` is the share since then
  // ---- HTTP monitoring (src/server/monitor) ----
  if (options().http_port != 0 || options().https_port != 0) {
    try {
      monitor_ = std::make_unique<monitor::Monitor>(*this);
      monitor_->start();
    } catch (...) {
      shutdown();
      throw;
    }
  }
  // ---- end HTTP monitoring ----
  // The system account's events and requests (account/system_account.h). Before the first
  // accept, like the monitor above: a client's loop reads both without a lock.
  if (auto sys = options().effective_system_account(); !sys.empty()) {
    if (auto acc = accounts_.find(sys)) {
      system_ = std::make_shared<SystemAccount>(*this, std::move(acc));
      system_->start();
    }
  }
  asio::post(ctx, [this] { do_accept(); });
  if (websocket_acceptor_) asio::post(ctx, [this] { do_websocket_accept(); });
  try {
    leafnodes_->start();
    cluster_->start();
    leafnodes_->dial_remotes();
  } catch (...) {
    shutdown();
    throw;
  }
  log_->info("Server is ready");
}

void Server::warn_of_plaintext_passwords() const {
  // The reference's checkAuthforWarnings, at start: a password that is no bcrypt hash, the
  // single user's or any user's (a user with no password under verify_and_map excepted).
  const Options& o = options();
  bool plaintext = !o.password.empty() && !is_bcrypt(o.password);
  for (const User& u : o.users) {
    if (plaintext) break;
    if (u.password.empty() && o.tls.map) continue;
    plaintext = !is_bcrypt(u.password);
  }
  if (plaintext) log_->warn("Plaintext passwords detected, use nkeys or bcrypt");
}

void Server::local_sub_added(const Account& account, const Subscription& sub) {
  cluster_->local_sub_added(account, sub);
  leafnodes_->interest(account, sub, sub.queue().empty() ? 1 : sub.weight.load(std::memory_order_relaxed));
}

void Server::local_sub_removed(const Account& account, const Subscription& sub) {
  cluster_->local_sub_removed(account, sub);
  leafnodes_->interest(account, sub, 0);
}

MessageTotals Server::message_totals() const {
  MessageTotals t;
  for (const auto& l : loops_) {
    const auto& c = l->counters();
    t.in_msgs += c.in_msgs.load(std::memory_order_relaxed);
    t.in_bytes += c.in_bytes.load(std::memory_order_relaxed);
    t.out_msgs += c.out_msgs.load(std::memory_order_relaxed);
    t.out_bytes += c.out_bytes.load(std::memory_order_relaxed);
  }
  t.in_msgs += foreign_.in_msgs.load(std::memory_order_relaxed);
  t.in_bytes += foreign_.in_bytes.load(std::memory_order_relaxed);
  t.out_msgs += foreign_.out_msgs.load(std::memory_order_relaxed);
  t.out_bytes += foreign_.out_bytes.load(std::memory_order_relaxed);
  return t;
}

void Server::count_in(uint64_t bytes) noexcept {
  if (EventLoop* l = EventLoop::current()) {
    LoopCounters::bump(l->counters().in_msgs, 1);
    LoopCounters::bump(l->counters().in_bytes, bytes);
  } else {
    foreign_.in_msgs.fetch_add(1, std::memory_order_relaxed);
    foreign_.in_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}

void Server::count_out(uint64_t bytes) noexcept {
  if (EventLoop* l = EventLoop::current()) {
    LoopCounters::bump(l->counters().out_msgs, 1);
    LoopCounters::bump(l->counters().out_bytes, bytes);
  } else {
    foreign_.out_msgs.fetch_add(1, std::memory_order_relaxed);
    foreign_.out_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}

void Server::track_connection(const std::shared_ptr<Connection>& c) {
  std::lock_guard lk(mu_);
  others_.emplace(c->cid(), c);
}

void Server::untrack_connection(uint64_t cid) {
  std::lock_guard lk(mu_);
  others_.erase(cid);
  if (others_.empty() && clients_.size() == 0) cv_.notify_all();
}

std::vector<std::string> Server::own_client_urls() const {
  return listener_urls(options().client_advertise, options().host, port_);
}

std::vector<std::string> Server::own_websocket_urls() const {
  if (websocket_port_ == 0) return {};
  const WebsocketOptions& w = options().websocket;
  return listener_urls(w.advertise, w.host.empty() ? defaults::kHost : w.host, websocket_port_);
}

std::vector<std::string> Server::listener_urls(const std::string& advertise, const std::string& listen_host,
                                               int port) const {
  std::vector<std::string> urls;
  auto join = [](const std::string& h, int p) {
    return h.find(':') != std::string::npos ? fmt::format("[{}]:{}", h, p) : fmt::format("{}:{}", h, p);
  };
  if (lame_duck_) return urls;  // a lame duck no longer invites clients
  if (!advertise.empty()) {
    std::string h;
    int p = 0;
    try {
      split_host_port(advertise, h, p);
    } catch (const std::exception&) {
      h = advertise;
    }
    urls.push_back(join(h, p ? p : port));
    return urls;
  }
  std::string host = listen_host.empty() ? "0.0.0.0" : listen_host;
  if (host == "0.0.0.0" || host == "::") {
    // As the reference: every global unicast address of this host.
    ifaddrs* ifs = nullptr;
    if (::getifaddrs(&ifs) == 0) {
      for (ifaddrs* i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        boost::system::error_code ec;
        asio::ip::address a;
        if (i->ifa_addr->sa_family == AF_INET) {
          auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
          a = asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
        } else if (i->ifa_addr->sa_family == AF_INET6) {
          auto* sin6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
          asio::ip::address_v6::bytes_type b;
          std::memcpy(b.data(), sin6->sin6_addr.s6_addr, 16);
          auto v6 = asio::ip::address_v6(b);
          if (v6.is_link_local() || v6.is_multicast()) continue;
          a = v6;
        } else {
          continue;
        }
        if (a.is_loopback() || a.is_unspecified() || a.is_multicast()) continue;
        std::string s = a.to_string();
        if (std::find(urls.begin(), urls.end(), join(s, port)) == urls.end()) urls.push_back(join(s, port));
      }
      ::freeifaddrs(ifs);
    }
  }
  if (urls.empty()) urls.push_back(join(host, port));
  return urls;
}

void Server::send_async_info_to_clients() {
  {
    // A server going down tells clients nothing: routes closing during shutdown would
    // otherwise shrink every client's server list to this dying node (the reference
    // also stays silent once shutdown has begun).
    std::lock_guard lk(mu_);
    if (shutting_down_) return;
  }
  const ClientInfoParts info = client_info_parts();
  std::optional<ClientInfoParts> ws_info;  // built at the first WebSocket client
  std::string json;
  for (auto& c : clients()) {
    if (!c->takes_async_info()) continue;
    json.clear();
    if (c->is_websocket()) {
      if (!ws_info) ws_info = client_info_parts(true);
      ws_info->append_for(json, c->cid(), c->remote_ip());
    } else {
      info.append_for(json, c->cid(), c->remote_ip());
    }
    if (c->queue_info_unless_told(json)) c->flush_signal();
  }
}

EventLoop& Server::next_loop() { return *loops_[next_loop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]; }

void Server::do_accept() { accept_on(*acceptor_, accept_backoff_, false); }

void Server::do_websocket_accept() { accept_on(*websocket_acceptor_, websocket_backoff_, true); }

void Server::accept_on(tcp::acceptor& acceptor, AcceptBackoff& backoff, bool websocket) {
  // Acceptors are closed (shutdown, lame duck), never destroyed while the loops run.
  EventLoop& loop = next_loop();
  async_accept_with_peer(acceptor, loop.ctx(), [this, &loop, &acceptor, &backoff, websocket](
                                                   const boost::system::error_code& ec, tcp::socket sock,
                                                   const tcp::endpoint& peer) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !running_) return;
      // Too many open files and the like: the connection stays in the backlog, so back off
      // (10 ms doubling to 1 s) rather than spin, and log once per sleep (accept_backoff.h).
      auto sleep = backoff.next_sleep();
      log_->error("Temporary {} Accept Error({}), sleeping {}ms", websocket ? "Websocket" : "Client", ec.message(),
                  sleep.count());
      auto t = std::make_shared<asio::steady_timer>(loops_[0]->ctx(), sleep);
      t->async_wait([this, t, &acceptor, &backoff, websocket](const boost::system::error_code&) {
        if (running_) accept_on(acceptor, backoff, websocket);
      });
      return;
    }
    backoff.reset();
    // One accepted as lame duck mode closed the listener is let go, as the reference does.
    if (!running_ || lame_duck_) return;
    uint64_t cid = next_cid();
    stats_.total_connections.fetch_add(1, std::memory_order_relaxed);
    auto c = std::make_shared<ClientConn>(*this, loop, std::move(sock), cid,
                                          websocket ? websocket_settings_ : nullptr, &peer);
    c->start();
    accept_on(acceptor, backoff, websocket);
  });
}

void Server::start_websocket() {
  const WebsocketOptions& w = options().websocket;
  std::vector<std::string> errors;
  websocket_settings_ =
      std::make_shared<const websocket::Settings>(websocket::make_settings(w, options().max_pending, errors));
  for (const auto& e : errors) log_->error("{}", e);
  if (w.tls.enabled) websocket_tls_ = tls::Context::make(w.tls, tls::ContextKind::kClient);
  std::string host = w.host.empty() ? defaults::kHost : w.host;
  int want_port = w.port < 0 ? 0 : w.port;
  auto& ctx = loops_[0]->ctx();
  boost::system::error_code ec;
  auto addr = listen_address(ctx, host, ec);
  websocket_acceptor_ = std::make_unique<tcp::acceptor>(ctx);
  tcp::endpoint ep(addr, static_cast<unsigned short>(want_port));
  if (!ec) websocket_acceptor_->open(ep.protocol(), ec);
  if (!ec) websocket_acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) websocket_acceptor_->bind(ep, ec);
  if (!ec) websocket_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    websocket_acceptor_.reset();
    throw std::runtime_error(
        fmt::format("Unable to listen for websocket connections: listen tcp {}:{}: {}", host, want_port, ec.message()));
  }
  websocket_port_ = websocket_acceptor_->local_endpoint().port();
  const char* scheme = websocket_tls_ ? "wss" : "ws";
  log_->info("Listening for websocket clients on {}://{}:{}", scheme, host, websocket_port_);
  if (!websocket_tls_) log_->warn("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
}

Server::ClientInfoParts Server::client_info_parts(bool websocket) const {
  json::object head;
  head["server_id"] = id_;
  head["server_name"] = name_;
  head["version"] = kNatsCompatVersion;
  head["proto"] = 1;
  head["go"] = "c++20";
  head["host"] = options().host;
  head["port"] = port_;
  head["headers"] = true;
  const Options& o = options();
  if (o.auth_required() || (websocket && o.websocket.auth_override())) head["auth_required"] = true;
  const TlsConfig& tls = websocket ? o.websocket.tls : o.tls;
  if (tls.enabled) {
    head["tls_required"] = true;
    if (tls.verify) head["tls_verify"] = true;
  }
  head["max_payload"] = options().max_payload;
  json::object tail;
  if (cluster_->enabled() && !options().cluster.no_advertise) {
    // A WebSocket client is told the cluster's WebSocket URLs (the reference's
    // ws_connect_urls), never its TCP ones; none when no node has a websocket listener.
    json::array urls;
    for (auto& u : websocket ? cluster_->websocket_connect_urls() : cluster_->connect_urls()) urls.emplace_back(u);
    if (!urls.empty()) tail["connect_urls"] = std::move(urls);
  }
  if (lame_duck_) tail["ldm"] = true;
  tail["pylon"] = kPylonVersion;
  ClientInfoParts parts{json::serialize(head), json::serialize(tail)};
  parts.head.pop_back();      // the closing brace: the object goes on
  parts.tail.front() = ',';   // the opening brace: "pylon" is always there, so never "{}"
  return parts;
}

void Server::ClientInfoParts::append_for(std::string& out, uint64_t cid, std::string_view client_ip,
                                         std::string_view nonce) const {
  out += head;
  out += R"(,"client_id":)";
  out += std::to_string(cid);
  out += R"(,"client_ip":)";
  out += json::serialize(json::string_view(client_ip));  // an address: escaping is a formality
  if (!nonce.empty()) {  // where the reference's Info has it: after client_ip
    out += R"(,"nonce":)";
    out += json::serialize(json::string_view(nonce.data(), nonce.size()));
  }
  out += tail;
}

std::string Server::client_info_json(uint64_t cid, const std::string& client_ip, std::string_view nonce,
                                     bool websocket) const {
  std::string out;
  client_info_parts(websocket).append_for(out, cid, client_ip, nonce);
  return out;
}

Server::Registration Server::register_client(const std::shared_ptr<ClientConn>& c) {
  // shutdown() closes the registry before it closes the clients, so a client is either
  // refused here or among those it closes (client_registry.h).
  int max = options().max_connections;
  if (clients_.add(c->cid(), c, max > 0 ? static_cast<size_t>(max) : 0)) return Registration::kAdded;
  notify_if_idle();  // a refused add may have held the count's last place for a moment
  return clients_.closed() ? Registration::kShuttingDown : Registration::kFull;
}

void Server::remove_client(uint64_t cid) {
  if (clients_.remove(cid)) notify_if_idle();
}

void Server::notify_if_idle() {
  std::lock_guard lk(mu_);
  if (clients_.size() == 0 && others_.empty()) cv_.notify_all();
}

size_t Server::num_clients() const { return clients_.size(); }

std::vector<std::shared_ptr<ClientConn>> Server::clients() const { return clients_.snapshot(); }

void Server::shutdown() {
  {
    std::unique_lock lk(mu_);
    if (shutting_down_) {
      cv_.wait(lk, [this] { return shutdown_done_; });
      return;
    }
    shutting_down_ = true;
  }
  clients_.close();
  bool was_running = running_.exchange(false);
  if (was_running) log_->info("Initiating Shutdown...");
  if (monitor_) monitor_->stop();  // HTTP monitoring first
  if (system_) system_->stop();    // no more events or answers; its timer leaves loop 0
  if (acceptor_) {
    std::promise<void> closed;
    asio::post(loops_[0]->ctx(), [this, &closed] {
      boost::system::error_code ec;
      acceptor_->close(ec);
      if (websocket_acceptor_) websocket_acceptor_->close(ec);
      closed.set_value();
    });
    closed.get_future().wait();
  }
  cluster_->stop();
  leafnodes_->stop();
  for (auto& c : clients()) c->close(CloseReason::kServerShutdown, false);
  {
    std::vector<std::shared_ptr<Connection>> others;
    {
      std::lock_guard lk(mu_);
      for (auto& [cid, c] : others_) others.push_back(c);
    }
    for (auto& c : others) c->close(CloseReason::kServerShutdown, false);
  }
  {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(5), [this] { return clients_.size() == 0 && others_.empty(); });
    others_.clear();
  }
  clients_.clear();  // outside mu_: a client's destructor may run here
  for (auto& l : loops_) l->stop();
  if (was_running) {
    log_->report_suppressed();
    log_->info("Server Exiting..");
  }
  {
    std::lock_guard lk(mu_);
    shutdown_done_ = true;
  }
  cv_.notify_all();
}

int Server::http_port() const noexcept { return monitor_ ? monitor_->port() : 0; }

std::string Server::reload(Options next) {
  const Options& cur = options();
  // What a running server cannot change, refused by name in the reference's words
  // (reload.go: "config reload not supported for <Field>: old=<v>, new=<v>", Go field names).
  auto refuse = [](std::string_view field, const auto& was, const auto& now) {
    return fmt::format("config reload not supported for {}: old={}, new={}", field, was, now);
  };
  if (next.server_name != cur.server_name) return refuse("ServerName", cur.server_name, next.server_name);
  if (next.host != cur.host) return refuse("Host", cur.host, next.host);
  if (next.port != cur.port && !(cur.port < 0 && next.port < 0)) return refuse("Port", cur.port, next.port);
  if (next.http_host != cur.http_host) return refuse("HTTPHost", cur.http_host, next.http_host);
  if (next.http_port != cur.http_port) return refuse("HTTPPort", cur.http_port, next.http_port);
  if (next.https_port != cur.https_port) return refuse("HTTPSPort", cur.https_port, next.https_port);
  if (next.cluster.host != cur.cluster.host) return refuse("cluster host", cur.cluster.host, next.cluster.host);
  if (next.cluster.port != cur.cluster.port) return refuse("cluster port", cur.cluster.port, next.cluster.port);
  // The reference renames the cluster live; we refuse, since every route negotiated the name.
  if (next.cluster.name != cur.cluster.name) return refuse("cluster name", cur.cluster.name, next.cluster.name);
  if (next.event_loops != cur.event_loops) return refuse("event_loops", cur.event_loops, next.event_loops);
  // The system account's events and requests are bound to it for the server's life.
  if (next.effective_system_account() != cur.effective_system_account()) {
    return refuse("SystemAccount", cur.effective_system_account(), next.effective_system_account());
  }
  // As the reference: nothing of the websocket block reloads (it lets the TLS files change;
  // we refuse that too rather than keep the old certificate silently).
  // Leaf nodes reload only their TLS blocks (new certificates for new connections), as the
  // reference's diffOptions, which leaves out the TLS configs of the block and its remotes and
  // refuses every other change of it.
  auto without_tls = [](LeafNodeOptions l) {
    l.tls = {};
    for (auto& r : l.remotes) r.tls = {};
    return l;
  };
  if (!(without_tls(next.leafnodes) == without_tls(cur.leafnodes))) {
    return refuse("LeafNode", fmt::format("{{port:{} remotes:{}}}", cur.leafnodes.port, cur.leafnodes.remotes.size()),
                  fmt::format("{{port:{} remotes:{}}}", next.leafnodes.port, next.leafnodes.remotes.size()));
  }
  if (!(next.websocket == cur.websocket)) {
    return refuse("Websocket", fmt::format("{{port:{}}}", cur.websocket.port), fmt::format("{{port:{}}}", next.websocket.port));
  }
  std::shared_ptr<const tls::Context> next_tls, next_route_tls;
  LeafTlsContexts next_leaf_tls;
  try {
    validate_options(next);
    // The certificates are read again even when the block did not change: a reload is how
    // renewed certificates come in.
    next_tls = make_client_tls(next);
    next_route_tls = Cluster::make_route_tls(next);
    next_leaf_tls = Leafnodes::make_tls(next);
  } catch (const std::exception& e) {
    return e.what();
  }
  const Options* installed;
  {
    std::lock_guard lk(mu_);
    generations_.push_back(std::move(next));
    installed = &generations_.back();
  }
  const Options& old = cur;
  current_.store(installed, std::memory_order_release);
  const Options& now = *installed;

  log_->set_time(now.logtime);
  log_->set_debug(now.debug);
  log_->set_trace(now.trace);
  log_->set_size_limit(now.log_size_limit);
  if (now.log_file != old.log_file) {
    try {
      log_->open(now.log_file);
    } catch (const std::exception& e) {
      log_->error("{}", e.what());
    }
  }
  {
    // New clients handshake with the new context; connected ones keep theirs.
    std::lock_guard lk(tls_mu_);
    client_tls_ = std::move(next_tls);
  }
  if (now.tls.enabled != old.tls.enabled || (now.tls.enabled && !(now.tls == old.tls))) {
    log_->info("Reloaded: tls = {}", now.tls.enabled ? "enabled" : "disabled");
  }
  if (now.tls.pinned_certs != old.tls.pinned_certs) {
    log_->info("Reloaded: {} pinned_certs", now.tls.pinned_certs.size());
    // Connected clients whose key the new list leaves out go, as the reference's
    // recheckPinnedCerts means to (it checks them against the old list, which they all
    // passed; see docs/tls.md).
    if (!now.tls.pinned_certs.empty()) {
      std::vector<std::shared_ptr<ClientConn>> out;
      for (auto& c : clients()) {
        if (!c->tls_established()) continue;
        auto id = c->tls_peer_key_id();
        const auto& p = now.tls.pinned_certs;
        if (std::find(p.begin(), p.end(), id) == p.end()) out.push_back(c);
      }
      if (!out.empty()) {
        log_->info("Disconnect {} clients due to pinned certs reload", out.size());
        for (auto& c : out) c->close(CloseReason::kTlsHandshakeError, false);
      }
    }
  }
  if (now.tls.timeout != old.tls.timeout) log_->info("Reloaded: tls timeout = {}", std::chrono::duration<double>(now.tls.timeout).count());
  cluster_->reload_tls(now, old, std::move(next_route_tls));
  leafnodes_->reload_tls(std::move(next_leaf_tls));
  if (!(now.leafnodes.tls == old.leafnodes.tls)) {
    log_->info("Reloaded: leafnode tls = {}", now.leafnodes.tls.enabled ? "enabled" : "disabled");
  }
  cluster_->reload_routes(now.cluster.routes);
  // Accounts as the reference's reloadAuthorization: new ones registered, removed ones
  // unregistered (their clients are closed below: their user is gone or elsewhere), imports
  // replaced. Before the clients are checked, so each finds its account as it now is.
  if (!(now.accounts == old.accounts)) {
    accounts_.configure(now);
    log_->info("Reloaded: accounts");
  }
  // Connected clients: credentials and limits are checked again; those no longer allowed go.
  auto connected = clients();
  for (auto& c : connected) c->revalidate();
  // As the reference: a lowered max_connections closes enough clients to fall within it (the
  // newest ones here; the reference picks at random).
  if (now.max_connections > 0 && connected.size() > static_cast<size_t>(now.max_connections)) {
    std::sort(connected.begin(), connected.end(), [](const auto& a, const auto& b) { return a->cid() > b->cid(); });
    size_t excess = connected.size() - static_cast<size_t>(now.max_connections);
    for (size_t i = 0; i < excess; ++i) connected[i]->max_connections_exceeded();
    log_->info("Closed {} connections to fall within max_connections", excess);
  }
  log_->info("Reloaded server configuration");
  return {};
}

void Server::enter_lame_duck() {
  {
    std::lock_guard lk(mu_);
    if (shutting_down_ || lame_duck_ || !running_) return;
    lame_duck_ = true;
  }
  log_->info("Entering lame duck mode, stop accepting new clients");
  {
    std::promise<void> closed;
    asio::post(loops_[0]->ctx(), [this, &closed] {
      boost::system::error_code ec;
      if (acceptor_) acceptor_->close(ec);
      if (websocket_acceptor_) websocket_acceptor_->close(ec);
      closed.set_value();
    });
    closed.get_future().wait();
  }
  // Routes drop our client URLs; clients learn we are going (INFO with "ldm") and where else to go.
  cluster_->send_lame_duck();
  send_async_info_to_clients();

  lame_duck_thread_ = std::thread([this] {
    const Options& o = options();
    auto grace = o.lame_duck_grace_period;
    auto dur = o.lame_duck_duration - grace;
    if (dur <= Duration::zero()) dur = std::chrono::seconds(1);
    auto wait_or_stop = [this](Duration d) {
      std::unique_lock lk(mu_);
      return !cv_.wait_for(lk, d, [this] { return shutting_down_; });
    };
    if (!wait_or_stop(grace)) return;
    auto cs = clients();
    if (!cs.empty()) {
      log_->info("Closing existing clients");
      // Spread the closes over the duration so clients do not all reconnect elsewhere at once.
      auto step = dur / static_cast<int64_t>(cs.size());
      size_t batch = 1;
      if (step < std::chrono::milliseconds(1)) {
        batch = static_cast<size_t>(cs.size() / std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(dur).count())) + 1;
        step = std::chrono::milliseconds(1);
      } else if (step > std::chrono::seconds(1)) {
        step = std::chrono::seconds(1);
      }
      for (size_t i = 0; i < cs.size(); ++i) {
        cs[i]->close(CloseReason::kServerShutdown, true);
        if ((i + 1) % batch == 0 && i + 1 < cs.size() && !wait_or_stop(step)) return;
      }
    }
    shutdown();
  });
}

void Server::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return shutdown_done_; });
}

}  // namespace pylon::server
