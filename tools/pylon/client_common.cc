#include "client_common.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace pylon::tools {

namespace {
volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
}  // namespace

void add_tls_flags(CLI::App* cmd, TlsFlags& f) {
  cmd->add_option("--tlscert", f.cert, "Client certificate (PEM file), for servers that verify clients")
      ->group("TLS");
  cmd->add_option("--tlskey", f.key, "Private key of --tlscert (PEM file)")->group("TLS");
  cmd->add_option("--tlscacert", f.ca, "CA certificates (PEM file) that sign the servers' certificates")
      ->group("TLS");
  cmd->add_flag("--tlsfirst", f.first, "TLS handshake before the server's INFO (servers with handshake_first)")
      ->group("TLS");
  cmd->add_flag("--tlsinsecure", f.insecure,
                "INSECURE, for tests: do not verify the server's certificate (CA, expiry, host name)")
      ->group("TLS");
}

void apply_tls_flags(const TlsFlags& f, TlsOptions& o) {
  o.cert_file = f.cert;
  o.key_file = f.key;
  o.ca_file = f.ca;
  o.handshake_first = f.first;
  o.insecure_skip_verify = f.insecure;
}

void add_connect_flags(CLI::App* cmd, ConnectFlags& f) {
  cmd->add_option("-s,--server", f.servers,
                  "Server URL(s): nats://[user:pass@|token@]host:port, tls://..., or ws:// or wss://... (a server's WebSocket port); repeat or separate with commas")
      ->default_str("nats://127.0.0.1:4222")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--user", f.user, "User name (when the URL has none)");
  cmd->add_option("--password", f.password, "Password (with --user)");
  cmd->add_option("--token", f.token, "Authorization token (when the URL has none)");
  cmd->add_option("--nkey", f.nkey_file,
                  "An nkey user's seed file (as `pylon nkey gen` writes it, or a .nk/.creds file): signs the "
                  "server's nonce");
  cmd->add_option("--name", f.name, "Connection name shown in the server's monitoring");
  cmd->add_option("--connect-timeout", f.connect_timeout_s, "Seconds a connect attempt may take")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-reconnects", f.max_reconnects, "Reconnect attempts per server (-1: forever)")
      ->capture_default_str();
  cmd->add_flag("--no-randomize", f.no_randomize, "Use the servers in the order given");
  cmd->add_flag_callback("--quiet-events", [&f] { f.verbose_events = false; },
                         "Do not print connection events (disconnected, reconnected, ...)");
  add_tls_flags(cmd, f.tls);
}

std::unique_ptr<Connection> open_connection(const ConnectFlags& f, const std::string& default_name) {
  ClientOptions o;
  o.servers = f.servers.empty() ? std::vector<std::string>{"nats://127.0.0.1:4222"} : f.servers;
  o.user = f.user;
  o.password = f.password;
  o.token = f.token;
  o.nkey_seed_file = f.nkey_file;
  o.name = f.name.empty() ? default_name : f.name;
  o.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(f.connect_timeout_s * 1000));
  o.max_reconnects = f.max_reconnects;
  o.no_randomize = f.no_randomize;
  apply_tls_flags(f.tls, o.tls);
  if (f.verbose_events) {
    o.on_disconnected = [](Connection&, const ErrorInfo& e) {
      if (e != Error::kConnectionClosed) std::cerr << "disconnected: " << e.message << "\n";
    };
    o.on_reconnected = [](Connection& c) { std::cerr << "reconnected to " << c.connected_url() << "\n"; };
    o.on_closed = [](Connection& c) {
      if (ErrorInfo e = c.last_error(); e && e != Error::kConnectionClosed) {
        std::cerr << "connection closed: " << e.message << "\n";
      }
    };
    o.on_discovered_servers = [](Connection& c) {
      std::cerr << "discovered servers:";
      for (const auto& s : c.discovered_servers()) std::cerr << " " << s;
      std::cerr << "\n";
    };
    o.on_async_error = [](Connection&, const Subscription*, const ErrorInfo& e) {
      std::cerr << "error: " << e.message << "\n";
    };
    o.on_lame_duck = [](Connection& c) { std::cerr << "server " << c.connected_url() << " is in lame duck mode\n"; };
  }
  auto conn = std::make_unique<Connection>(std::move(o));
  conn->connect();
  return conn;
}

Headers parse_headers(const std::vector<std::string>& flags) {
  Headers h;
  for (const auto& f : flags) {
    auto colon = f.find(':');
    if (colon == std::string::npos || colon == 0) {
      throw CLI::ValidationError("-H", "header '" + f + "' is not Key:Value");
    }
    std::string value = f.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    h.add(f.substr(0, colon), value);
  }
  return h;
}

std::string expand(const std::string& text, int64_t n) {
  static const std::string kToken = "{{count}}";
  std::string out = text;
  for (size_t p = out.find(kToken); p != std::string::npos; p = out.find(kToken, p)) {
    std::string num = std::to_string(n);
    out.replace(p, kToken.size(), num);
    p += num.size();
  }
  return out;
}

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_stop != 0; }

Progress::Progress(std::string verb, int64_t total, bool enabled)
    : verb_(std::move(verb)), total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::tick(int64_t done, uint64_t bytes) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  draw(done, bytes, false);
}

void Progress::finish(int64_t done, uint64_t bytes) {
  if (!enabled_ || !drawn_) return;
  draw(done, bytes, true);
}

void Progress::draw(int64_t done, uint64_t bytes, bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (secs <= 0) secs = 1e-9;
  std::string of = total_ > 0 ? "/" + std::to_string(total_) : std::string();
  std::fprintf(stderr, "\r%s %lld%s msgs, %s msgs/s, %sB/s, %.1fs%s", verb_.c_str(), static_cast<long long>(done),
               of.c_str(), human(static_cast<double>(done) / secs).c_str(),
               human(static_cast<double>(bytes) / secs).c_str(), secs, final ? "\n" : "   ");
  std::fflush(stderr);
  drawn_ = true;
}

int run_command(const char* name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Exception& e) {
    std::cerr << "pylon " << name << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pylon::tools
