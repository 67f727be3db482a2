#include "top.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "http_get.h"
#include "top_screen.h"
#include "top_stats.h"
#include "top_view.h"

namespace pylon::tools {

namespace {

using namespace std::chrono_literals;

struct Endpoint {
  std::string host;
  int port = 0;
  bool https = false;
};

// -s as nats-top (a host), or with a port ("host:8222", "[::1]:8222", "http://host:8222",
// "https://host:8223"). -ms (as nats-top's) names an HTTPS port.
Endpoint parse_server(std::string s, int http_port, int https_port) {
  Endpoint e{std::move(s), https_port > 0 ? https_port : http_port, https_port > 0};
  if (auto at = e.host.find("://"); at != std::string::npos) {
    std::string scheme = e.host.substr(0, at);
    if (scheme != "http" && scheme != "https") {
      throw CLI::ValidationError("-s", "monitoring URLs are http:// or https://, not " + scheme + "://");
    }
    if (scheme == "http" && https_port > 0) throw CLI::ValidationError("-s", "an http:// URL with -ms (HTTPS port)");
    e.https = e.https || scheme == "https";
    e.host = e.host.substr(at + 3);
  }
  if (auto slash = e.host.find('/'); slash != std::string::npos) e.host.resize(slash);
  std::string port;
  if (!e.host.empty() && e.host[0] == '[') {
    auto close = e.host.find(']');
    if (close == std::string::npos) throw CLI::ValidationError("-s", "bad address " + e.host);
    if (close + 1 < e.host.size() && e.host[close + 1] == ':') port = e.host.substr(close + 2);
    e.host = e.host.substr(1, close - 1);
  } else if (auto colon = e.host.find(':'); colon != std::string::npos && e.host.find(':', colon + 1) == std::string::npos) {
    port = e.host.substr(colon + 1);
    e.host.resize(colon);
  }
  if (!port.empty()) {
    try {
      size_t used = 0;
      e.port = std::stoi(port, &used);
      if (used != port.size()) throw std::invalid_argument(port);
    } catch (const std::exception&) {
      throw CLI::ValidationError("-s", "bad port in " + port);
    }
  }
  if (e.host.empty()) throw CLI::ValidationError("-s", "no host given");
  if (e.port <= 0 || e.port > 65535) throw CLI::ValidationError("-m", "invalid monitoring port " + std::to_string(e.port));
  return e;
}

// The TLS flags mean something only for HTTPS: refused with a plain http endpoint rather
// than ignored, so a forgotten https:// does not look like a certificate problem.
HttpTls tls_for(const Endpoint& e, HttpTls tls) {
  bool any = !tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty() || tls.insecure;
  if (!e.https) {
    if (any) {
      throw CLI::ValidationError("--tlscacert/--tlscert/--tlskey/--tlsinsecure",
                                 "need an HTTPS monitoring port: -s https://host:port or -ms PORT");
    }
    return {};
  }
  if (!tls.key_file.empty() && tls.cert_file.empty()) throw CLI::ValidationError("--tlskey", "needs --tlscert");
  tls.enabled = true;
  return tls;
}

int write_snapshot(const TopOptions& o, top::Poller& poller, const top::Query& q) {
  // Two polls `-d` apart, so the snapshot has rates and the rate sort means something
  // (nats-top's -o writes its very first poll, which has none).
  top::Snapshot snap;
  try {
    poller.poll(q);
    std::this_thread::sleep_for(std::chrono::duration<double>(o.delay_s));
    snap = poller.poll(q);
  } catch (const std::exception& e) {
    std::cerr << "pylon top: " << e.what() << "\n";
    return 1;
  }
  top::ViewOptions view;
  view.raw_bytes = o.raw_bytes;
  view.delay_s = o.delay_s;
  std::string text;
  for (const auto& line : top::render(snap, view)) text += line.text + "\n";
  if (o.output == "-") {
    std::cout << text << std::flush;
    return 0;
  }
  std::ofstream out(o.output, std::ios::trunc);
  if (out) out << text;
  if (!out) {
    std::cerr << "pylon top: failed to write stats-snapshot to output file '" << o.output << "'\n";
    return 1;
  }
  return 0;
}

int run_top(const TopOptions& o) {
  Endpoint ep = parse_server(o.server, o.http_port, o.https_port);
  top::Poller poller(ep.host, ep.port, std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000)),
                     tls_for(ep, o.tls));
  top::Query q;
  q.sort = o.sort;
  q.limit = o.conns;
  q.subs = o.subs;
  q.account = o.account;

  // As nats-top: a server that does not answer at start is an error, not an empty screen.
  try {
    poller.check();
  } catch (const std::exception& e) {
    std::string why = e.what();
    std::cerr << "pylon top: /varz smoke test failed: " << why << "\n";
    if (why.find("failed to verify certificate") != std::string::npos) {
      std::cerr << "(pass the CA that signs the server's certificate with --tlscacert, or --tlsinsecure for a test "
                   "server)\n";
    } else {
      std::cerr << "(is monitoring enabled? start the server with " << (ep.https ? "-ms " : "-m ") << ep.port
                << ", or point -s/" << (ep.https ? "-ms" : "-m") << " at it)\n";
    }
    return 1;
  }
  if (!o.output.empty()) return write_snapshot(o, poller, q);

  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) {
    std::cerr << "pylon top: the live view needs a terminal; use -o - for a one-shot snapshot\n";
    return 2;
  }
  top::Snapshot first;
  try {
    first = poller.poll(q);
  } catch (const std::exception& e) {
    std::cerr << "pylon top: " << e.what() << "\n";
    return 1;
  }
  return top::run_screen(o, poller, std::move(first));
}

}  // namespace

void add_top(CLI::App& app, int& rc) {
  auto o = std::make_shared<TopOptions>();
  std::string keys;
  for (const auto& k : top::sort_keys()) keys += (keys.empty() ? "" : ", ") + std::string(k.name);

  CLI::App* cmd = app.add_subcommand(
      "top",
      "Live view of a server's connections, like nats-top: server totals and rates from /varz,\n"
      "connections from /connz with per-second rates between refreshes, busiest first.\n"
      "Keys: o sort, < > cycle sort, n limit, s subscriptions, b raw numbers, space refresh,\n"
      "? help, q quit. Single-dash flags as nats-top's work too (-sort subs, -ms 8223 -cacert ca.pem).");
  cmd->add_option("-s,--server", o->server,
                  "Server host (or host:port, http://host:port, https://host:port) of the monitoring endpoint")
      ->capture_default_str();
  cmd->add_option("-m,--http_port", o->http_port, "The server's monitoring port (its -m)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--ms,--https_port", o->https_port, "The server's HTTPS monitoring port (its -ms): poll over TLS")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--tlscacert,--cacert", o->tls.ca_file,
                  "CA certificates (PEM file) that sign the monitoring port's certificate (default: the system's)")
      ->group("HTTPS");
  cmd->add_option("--tlscert,--cert", o->tls.cert_file, "Client certificate (PEM file), for a server that asks for one")
      ->group("HTTPS");
  cmd->add_option("--tlskey,--key", o->tls.key_file, "Private key of --tlscert (PEM file)")->group("HTTPS");
  cmd->add_flag("--tlsinsecure,-k", o->tls.insecure,
                "INSECURE, for tests: do not verify the monitoring port's certificate (CA, expiry, host name)")
      ->group("HTTPS");
  cmd->add_option("-n,--conns", o->conns, "Connections to show (and request from the server)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("-d,--delay", o->delay_s, "Seconds between refreshes (fractions allowed)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 86400.0));
  cmd->add_option("--sort", o->sort,
                  "Sort key: " + keys +
                      ".\n*_rate keys are computed between refreshes (msgs_rate: messages per second to + "
                      "from the client);\nthe others are /connz's own sort options")
      ->capture_default_str()
      ->check([](const std::string& v) {
        return top::find_sort_key(v) ? std::string() : "invalid option to sort by: " + v;
      });
  cmd->add_option("-r,--max-refreshes", o->max_refreshes, "Quit after this many refreshes (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", o->output,
                  "Write one snapshot (two polls -d apart, so it has rates) to FILE, '-' for stdout, and exit");
  cmd->add_flag("-b,--raw-bytes", o->raw_bytes, "Show numbers in full instead of K, M, G");
  cmd->add_flag("-u,--display-subscriptions-column", o->subs, "Start with the subscriptions column shown");
  cmd->add_option("--acc,--account", o->account,
                  "Only the connections of this account (the server's /connz?acc=), e.g. --acc '$G'");
  cmd->add_option("--timeout", o->timeout_s, "Seconds an HTTP request may take")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 600.0));
  cmd->callback([o, &rc] { rc = run_top(*o); });
}

std::vector<std::string> top_go_style_args(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (argc < 2 || args[1] != "top") return args;
  static const char* const kLong[] = {"sort", "ms", "cert", "key", "cacert", "conns", "delay", "server", "output",
                                      "timeout", "http_port", "max-refreshes", "raw-bytes",
                                      "display-subscriptions-column", "acc", "account"};
  for (size_t i = 2; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 3 || a[0] != '-' || a[1] == '-') continue;
    std::string name = a.substr(1, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 1);
    for (const char* l : kLong)
      if (name == l) {
        a.insert(0, "-");
        break;
      }
  }
  return args;
}

}  // namespace pylon::tools
