#include "cluster_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <sstream>
#include <thread>

namespace pylon::it::cluster {
namespace {

bool current_test_failed() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info && info->result() && info->result()->Failed();
}

bool port_accepts(int port) {
  RawClient c;
  return c.connect(port, 0ms);
}

// Every port handed out by this process, so two nodes of one test never share
// one.
std::mutex g_ports_mu;
std::set<int> g_ports;

int fresh_port() {
  std::lock_guard lk(g_ports_mu);
  for (int i = 0; i < 50; ++i) {
    int p = pick_free_port();
    if (p > 0 && g_ports.insert(p).second) return p;
  }
  return pick_free_port();
}

}  // namespace

std::string pylon_binary() { return server_binary(); }

std::string nats_binary() {
  const char* ref = std::getenv("PYLON_NATS_SERVER_BIN");
  return ref && *ref ? ref : "/usr/sbin/nats-server";
}

bool is_reference(const std::string& binary) {
  if (binary == nats_binary()) return true;
  return binary.size() >= 11 && binary.compare(binary.size() - 11, 11, "nats-server") == 0;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::optional<std::string> http_get_body(int port, const std::string& target, milliseconds timeout) {
  auto r = http_get(port, target, timeout, 200ms);
  if (!r || r->status != 200) return std::nullopt;
  return std::move(r->body);
}

std::string route_url(int port, const std::string& userinfo) { return route_url("127.0.0.1", port, userinfo); }

std::string route_url(const std::string& host, int port, const std::string& userinfo) {
  return "nats://" + (userinfo.empty() ? "" : userinfo + "@") + host + ":" + std::to_string(port);
}

// ------------------------------------------------------------------ Node

Node::Node(NodeConfig cfg) : cfg_(std::move(cfg)) {}

Node::~Node() {
  if (pid_ > 0) stop();
  if (current_test_failed()) {
    std::string text = log();
    if (text.size() > 8000) text = "...\n" + text.substr(text.size() - 8000);
    std::fprintf(stderr,
                 "---- node %s log (%s, incarnation %d) ----\n%s---- end of "
                 "node %s log ----\n",
                 cfg_.name.c_str(), log_path().c_str(), incarnation_, text.c_str(), cfg_.name.c_str());
  }
}

std::string Node::client_url() const { return "nats://127.0.0.1:" + std::to_string(cfg_.client_port); }

std::string Node::log_path() const { return tmp_.file("server-" + std::to_string(incarnation_) + ".log"); }

std::string Node::log() const { return read_file(log_path()); }

std::string Node::config_path() const { return tmp_.file("node-" + std::to_string(incarnation_) + ".conf"); }

bool Node::wait_for_log(const std::string& needle, milliseconds timeout) const {
  return wait_for([&] { return log().find(needle) != std::string::npos; }, timeout, 10ms);
}

std::vector<std::string> Node::log_lines(const std::string& needle) const {
  std::vector<std::string> out;
  std::istringstream in(log());
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

bool Node::start(milliseconds timeout) { return spawn() && wait_ready(timeout); }

bool Node::spawn() {
  if (pid_ > 0) {
    ADD_FAILURE() << "node " << cfg_.name << " already running";
    return false;
  }
  ++incarnation_;
  id_.clear();
  std::vector<std::string> argv{cfg_.binary,
                                "-a",
                                cfg_.host,
                                "-p",
                                std::to_string(cfg_.client_port),
                                "-n",
                                cfg_.name,
                                "--cluster_name",
                                cfg_.cluster_name,
                                "--cluster",
                                route_url(cfg_.host, cfg_.route_port, cfg_.listen_userinfo),
                                "-D"};
  if (cfg_.http_port > 0) argv.insert(argv.end(), {"-m", std::to_string(cfg_.http_port)});
  if (!cfg_.routes.empty()) argv.insert(argv.end(), {"--routes", join(cfg_.routes)});
  if (!cfg_.config.empty()) {
    argv.push_back("-c");
    argv.push_back(tmp_.write("node-" + std::to_string(incarnation_) + ".conf", cfg_.config));  // config_path()
  }
  for (auto& a : cfg_.extra_args) argv.push_back(a);

  std::string path = log_path();
  {
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    tmp_.write("cmdline-" + std::to_string(incarnation_) + ".txt", cmd + "\n");
  }
  std::string why;
  pid_t pid = spawn_logged(argv, path, &why);
  if (pid < 0) {
    ADD_FAILURE() << "node " << cfg_.name << ": " << why;
    return false;
  }
  pid_ = pid;
  return true;
}

bool Node::wait_ready(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!running()) {
      ADD_FAILURE() << "node " << cfg_.name << " (" << cfg_.binary << ") exited early; log:\n" << log();
      return false;
    }
    std::string text = log();
    bool ready = port_accepts(cfg_.client_port) && text.find("Listening for route connections") != std::string::npos &&
                 (cfg_.http_port <= 0 || port_accepts(cfg_.http_port));
    if (ready) return true;
    std::this_thread::sleep_for(5ms);
  }
  ADD_FAILURE() << "node " << cfg_.name << " not ready within " << timeout.count() << " ms; log:\n" << log();
  kill();
  return false;
}

bool Node::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int Node::stop(milliseconds timeout) {
  if (pid_ <= 0) return -1;
  int status = 0;
  ::kill(pid_, SIGTERM);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (Clock::now() >= deadline) {
      ADD_FAILURE() << "node " << cfg_.name << " did not exit on SIGTERM within " << timeout.count() << " ms; killing";
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(2ms);
  }
  pid_ = -1;
  return status;
}

void Node::send_signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void stop_all(const NodeList& nodes) {
  for (auto* n : nodes) n->send_signal(SIGTERM);
  for (auto* n : nodes) n->stop();
}

void Node::kill() {
  if (pid_ <= 0) return;
  int status = 0;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::optional<json::object> Node::routez() const {
  if (cfg_.http_port <= 0) return std::nullopt;
  auto body = http_get_body(cfg_.http_port, "/routez");
  if (!body) return std::nullopt;
  try {
    auto v = json::parse(*body);
    if (v.is_object()) return v.as_object();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string Node::server_id() {
  if (!id_.empty()) return id_;
  if (auto r = routez()) {
    if (auto* v = r->if_contains("server_id"); v && v->is_string()) id_ = std::string(v->as_string());
  }
  if (id_.empty()) {
    // Fallback: the "ID:" line of the startup banner.
    static const std::regex re(R"(\]\s+ID:\s+(N[A-Z0-9]+))");
    std::smatch m;
    std::string text = log();
    if (std::regex_search(text, m, re)) id_ = m[1];
  }
  return id_;
}

std::optional<std::multiset<std::string>> Node::routez_remote_ids() const {
  auto r = routez();
  if (!r) return std::nullopt;
  std::multiset<std::string> out;
  auto* routes = r->if_contains("routes");
  if (routes && routes->is_array()) {
    for (auto& e : routes->as_array()) {
      if (!e.is_object()) continue;
      auto* id = e.as_object().if_contains("remote_id");
      out.insert(id && id->is_string() ? std::string(id->as_string()) : std::string("?"));
    }
  }
  auto* n = r->if_contains("num_routes");
  if (!n || !n->is_number() || n->to_number<int64_t>() != static_cast<int64_t>(out.size()))
    out.insert("<num_routes mismatch>");
  return out;
}

std::multiset<std::string> Node::log_live_route_ids() const {
  static const std::regex reg(R"(rid:(\d+) - Route connection to .* \(([A-Za-z0-9]+)\) registered)");
  static const std::regex closed(R"(rid:(\d+) - Route(r)? connection (to .* )?closed)");
  std::map<std::string, std::string> live;  // rid -> remote id
  std::istringstream in(log());
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, reg)) {
      live[m[1]] = m[2];
    } else if (std::regex_search(line, m, closed)) {
      live.erase(m[1]);
    }
  }
  std::multiset<std::string> out;
  for (auto& [rid, id] : live) out.insert(id);
  return out;
}

std::string Node::describe() {
  std::ostringstream os;
  os << cfg_.name << "(" << (is_pylon() ? "pylon" : "nats") << ", id " << server_id().substr(0, 8) << ", routez:";
  if (auto ids = routez_remote_ids()) {
    os << " " << ids->size() << " [";
    for (auto& i : *ids) os << i.substr(0, 8) << " ";
    os << "]";
  } else {
    os << " n/a";
  }
  if (is_pylon()) {
    auto ids = log_live_route_ids();
    os << ", log: " << ids.size() << " [";
    for (auto& i : ids) os << i.substr(0, 8) << " ";
    os << "]";
  }
  os << ")";
  return os.str();
}

bool mesh_complete(const NodeList& nodes, std::string* why) {
  std::vector<std::string> ids;
  for (auto* n : nodes) ids.push_back(n->server_id());
  bool ok = true;
  for (size_t i = 0; i < nodes.size() && ok; ++i) {
    std::multiset<std::string> expected;
    for (size_t j = 0; j < nodes.size(); ++j)
      if (j != i) expected.insert(ids[j]);
    if (ids[i].empty()) ok = false;
    auto got = nodes[i]->routez_remote_ids();
    if (!got || *got != expected) ok = false;
    if (ok && nodes[i]->is_pylon() && nodes[i]->log_live_route_ids() != expected) ok = false;
  }
  if (!ok && why) {
    *why = "";
    for (auto* n : nodes) *why += n->describe() + "\n";
  }
  return ok;
}

bool wait_mesh(const NodeList& nodes, milliseconds timeout, std::string* why) {
  bool ok = wait_for([&] { return mesh_complete(nodes); }, timeout, 25ms);
  if (!ok) mesh_complete(nodes, why);
  return ok;
}

NodeConfig single_config(Kind kind, const std::string& name, const std::string& cluster) {
  NodeConfig c;
  c.name = name;
  c.binary = binary_of(kind);
  c.cluster_name = cluster;
  c.client_port = fresh_port();
  c.http_port = fresh_port();
  c.route_port = fresh_port();
  return c;
}

std::vector<NodeConfig> mesh_configs(const std::vector<Kind>& kinds, const std::string& cluster,
                                     const std::string& name_prefix) {
  std::vector<NodeConfig> out;
  for (size_t i = 0; i < kinds.size(); ++i)
    out.push_back(single_config(kinds[i], name_prefix + std::to_string(i + 1), cluster));
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = 0; j < out.size(); ++j)
      if (i != j) out[i].routes.push_back(route_url(out[j].route_port));
  return out;
}

// ------------------------------------------------------------------ clients

bool ClientEvents::wait(const std::function<bool()>& pred, milliseconds timeout) {
  std::unique_lock lk(mu);
  return cv.wait_for(lk, timeout, pred);
}

int ClientEvents::get(int ClientEvents::*field) {
  std::lock_guard lk(mu);
  return this->*field;
}

namespace {

using EvHolder = std::shared_ptr<ClientEvents>;

void on_disconnected(natsConnection*, void* closure) {
  auto& ev = **static_cast<EvHolder*>(closure);
  std::lock_guard lk(ev.mu);
  ev.last_disconnected = Clock::now();
  if (ev.disconnected++ == 0) ev.first_disconnected = ev.last_disconnected;
  ev.cv.notify_all();
}
void on_reconnected(natsConnection*, void* closure) {
  auto& ev = **static_cast<EvHolder*>(closure);
  std::lock_guard lk(ev.mu);
  ++ev.reconnected;
  ev.cv.notify_all();
}
void on_discovered(natsConnection*, void* closure) {
  auto& ev = **static_cast<EvHolder*>(closure);
  std::lock_guard lk(ev.mu);
  ++ev.discovered;
  ev.cv.notify_all();
}
void on_closed(natsConnection*, void* closure) {
  auto* holder = static_cast<EvHolder*>(closure);
  {
    auto& ev = **holder;
    std::lock_guard lk(ev.mu);
    if (ev.closed++ == 0) ev.first_closed = Clock::now();
    ev.cv.notify_all();
  }
  delete holder;  // the closed callback is the last one libnats invokes for a
                  // connection
}

}  // namespace

std::unique_ptr<Client> Client::connect(const std::vector<std::string>& urls, const ClientOptions& o, bool quiet,
                                        natsStatus* status) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> curls;
  for (auto& u : urls) curls.push_back(u.c_str());
  auto ev = std::make_shared<ClientEvents>();
  auto* holder = new EvHolder(ev);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, curls.data(), static_cast<int>(curls.size()));
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, true);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, o.allow_reconnect);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, o.max_reconnect);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, o.reconnect_wait_ms);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts, 0, 0);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, o.timeout_ms);
  if (s == NATS_OK && o.ping_interval_ms > 0) s = natsOptions_SetPingInterval(opts, o.ping_interval_ms);
  if (s == NATS_OK && o.max_pings_out > 0) s = natsOptions_SetMaxPingsOut(opts, o.max_pings_out);
  if (s == NATS_OK && !o.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts, o.creds_file.c_str(), nullptr);
  }
  if (s == NATS_OK && o.reconnect_buf > 0) s = natsOptions_SetReconnectBufSize(opts, o.reconnect_buf);
  if (s == NATS_OK && !o.name.empty()) s = natsOptions_SetName(opts, o.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected, holder);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_reconnected, holder);
  if (s == NATS_OK) s = natsOptions_SetDiscoveredServersCB(opts, on_discovered, holder);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_closed, holder);
  natsConnection* nc = nullptr;
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (status) *status = s;
  if (s != NATS_OK) {
    // `holder` is leaked on purpose: whether libnats still calls back is not
    // specified.
    if (!quiet) ADD_FAILURE() << "connect to " << join(urls) << " failed: " << natsStatus_GetText(s);
    return nullptr;
  }
  std::unique_ptr<Client> c(new Client());
  c->nc_ = nc;
  c->ev_ = ev;
  c->name_ = o.name;
  return c;
}

Client::~Client() {
  if (!nc_) return;
  natsConnection_Close(nc_);
  ev_->wait([&] { return ev_->closed > 0; }, 2s);
  natsConnection_Destroy(nc_);
}

std::vector<std::string> Client::servers() const {
  char** list = nullptr;
  int n = 0;
  std::vector<std::string> out;
  if (natsConnection_GetServers(nc_, &list, &n) != NATS_OK) return out;
  for (int i = 0; i < n; ++i) {
    out.emplace_back(list[i]);
    free(list[i]);
  }
  free(list);
  return out;
}

std::string Client::connected_url() const {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nc_, buf, sizeof buf) != NATS_OK) return "";
  return buf;
}

bool Client::flush(milliseconds timeout) { return natsConnection_FlushTimeout(nc_, timeout.count()) == NATS_OK; }

// ------------------------------------------------------------------ collector

void Collector::add(Received r) {
  {
    std::lock_guard lk(mu_);
    static const std::string kProbe = "__probe__:";
    if (r.data.rfind(kProbe, 0) == 0) {
      auto last = r.data.rfind(':');
      std::string key = r.data.substr(kProbe.size(), last - kProbe.size());
      probes_.insert(key + "@" + std::to_string(r.tag));  // which subscription saw it
      probes_.insert(std::move(key));
    } else {
      msgs_.push_back(std::move(r));
    }
    last_ = Clock::now();
  }
  cv_.notify_all();
}

std::vector<Received> Collector::messages() const {
  std::lock_guard lk(mu_);
  return msgs_;
}

size_t Collector::count() const {
  std::lock_guard lk(mu_);
  return msgs_.size();
}

bool Collector::wait_count(size_t n, milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return msgs_.size() >= n; });
}

bool Collector::wait(const std::function<bool(const std::vector<Received>&)>& pred, milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return pred(msgs_); });
}

size_t Collector::wait_quiet(milliseconds quiet, milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lk(mu_);
  for (;;) {
    auto now = Clock::now();
    if (now - last_ >= quiet || now >= deadline) return msgs_.size();
    cv_.wait_until(lk, std::min(last_ + quiet, deadline));
  }
}

bool Collector::saw_probe(const std::string& key) const {
  std::lock_guard lk(mu_);
  return probes_.count(key) > 0;
}

bool Collector::wait_probe(const std::string& key, milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return probes_.count(key) > 0; });
}

void Collector::clear() {
  std::lock_guard lk(mu_);
  msgs_.clear();
}

// ------------------------------------------------------------------ async
// subscriptions

namespace {

struct SubCtx {
  std::shared_ptr<Collector> col;
  int tag = 0;
  std::string responder;
};

std::map<std::string, std::string> headers_of(natsMsg* m) {
  std::map<std::string, std::string> out;
  const char** keys = nullptr;
  int n = 0;
  if (natsMsgHeader_Keys(m, &keys, &n) != NATS_OK) return out;
  for (int i = 0; i < n; ++i) {
    const char* v = nullptr;
    if (natsMsgHeader_Get(m, keys[i], &v) == NATS_OK && v) out[keys[i]] = v;
  }
  free(keys);
  return out;
}

void on_msg(natsConnection* nc, natsSubscription*, natsMsg* m, void* closure) {
  auto* ctx = static_cast<SubCtx*>(closure);
  Received r;
  r.subject = natsMsg_GetSubject(m);
  if (const char* rp = natsMsg_GetReply(m)) r.reply = rp;
  r.data.assign(natsMsg_GetData(m) ? natsMsg_GetData(m) : "", static_cast<size_t>(natsMsg_GetDataLength(m)));
  r.headers = headers_of(m);
  r.tag = ctx->tag;
  natsMsg_Destroy(m);
  if (!ctx->responder.empty() && !r.reply.empty() && r.data.rfind("__probe__:", 0) != 0) {
    std::string body = ctx->responder + "|" + r.data;
    natsMsg* out = nullptr;
    if (natsMsg_Create(&out, r.reply.c_str(), nullptr, body.data(), static_cast<int>(body.size())) == NATS_OK) {
      for (auto& [k, v] : r.headers) natsMsgHeader_Set(out, k.c_str(), v.c_str());
      natsConnection_PublishMsg(nc, out);
      natsMsg_Destroy(out);
    }
  }
  ctx->col->add(std::move(r));
}

void on_complete(void* closure) { delete static_cast<SubCtx*>(closure); }

}  // namespace

std::unique_ptr<AsyncSub> AsyncSub::make(Client& c, const std::string& subject, std::shared_ptr<Collector> col, int tag,
                                         const std::string& queue, const std::string& responder) {
  auto* ctx = new SubCtx{std::move(col), tag, responder};
  natsSubscription* sub = nullptr;
  natsStatus s = queue.empty()
                     ? natsConnection_Subscribe(&sub, c.nc(), subject.c_str(), on_msg, ctx)
                     : natsConnection_QueueSubscribe(&sub, c.nc(), subject.c_str(), queue.c_str(), on_msg, ctx);
  if (s != NATS_OK) {
    ADD_FAILURE() << "subscribe " << subject << " " << queue << ": " << natsStatus_GetText(s);
    delete ctx;
    return nullptr;
  }
  natsSubscription_SetPendingLimits(sub, 1'000'000, 1'000'000'000);
  if (natsSubscription_SetOnCompleteCB(sub, on_complete, ctx) != NATS_OK) {
    // ctx leaks (the handler may still run); harmless in a test.
  }
  auto out = std::unique_ptr<AsyncSub>(new AsyncSub());
  out->sub_ = sub;
  return out;
}

void AsyncSub::unsubscribe() {
  if (sub_) natsSubscription_Unsubscribe(sub_);
}

AsyncSub::~AsyncSub() {
  if (!sub_) return;
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
}

bool await_interest(Client& pub, const std::string& subject, Collector& col, const std::string& key,
                    milliseconds timeout) {
  return await_interest(pub, subject, col, key, std::nullopt, timeout);
}

bool await_interest(Client& pub, const std::string& subject, Collector& col, const std::string& probe_key,
                    std::optional<int> tag, milliseconds timeout) {
  // Probes carry probe_key; the collector also files each under "<key>@<tag>".
  const std::string key = tag ? probe_key + "@" + std::to_string(*tag) : probe_key;
  auto deadline = Clock::now() + timeout;
  milliseconds step = 20ms;
  for (int n = 0;; ++n) {
    if (col.saw_probe(key)) return true;
    std::string data = "__probe__:" + probe_key + ":" + std::to_string(n);
    natsConnection_PublishString(pub.nc(), subject.c_str(), data.c_str());
    natsConnection_FlushTimeout(pub.nc(), 1000);
    if (col.wait_probe(key, step)) return true;
    if (Clock::now() >= deadline) return col.saw_probe(key);
    step = std::min<milliseconds>(step * 2, 200ms);
  }
}

std::unique_ptr<Client> client_of(Node& n, const std::string& name) {
  ClientOptions o;
  o.name = name;
  return Client::connect({n.client_url()}, o);
}

natsStatus publish(Client& c, const std::string& subject, const std::string& data, const std::string& reply,
                   const std::map<std::string, std::string>& headers) {
  if (headers.empty()) {
    return reply.empty() ? natsConnection_Publish(c.nc(), subject.c_str(), data.data(), static_cast<int>(data.size()))
                         : natsConnection_PublishRequest(c.nc(), subject.c_str(), reply.c_str(), data.data(),
                                                         static_cast<int>(data.size()));
  }
  natsMsg* m = nullptr;
  natsStatus s = natsMsg_Create(&m, subject.c_str(), reply.empty() ? nullptr : reply.c_str(), data.data(),
                                static_cast<int>(data.size()));
  for (auto& [k, v] : headers)
    if (s == NATS_OK) s = natsMsgHeader_Set(m, k.c_str(), v.c_str());
  if (s == NATS_OK) s = natsConnection_PublishMsg(c.nc(), m);
  natsMsg_Destroy(m);
  return s;
}

}  // namespace pylon::it::cluster
