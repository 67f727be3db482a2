#include "server/config/flags.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string_view>

#include "server/config/config_loader.h"
#include "server/config/url.h"
#include "server/tls/tls_context.h"

namespace pylon::server {

namespace {

enum class FlagKind { kString, kInt, kBool, kUnsupported };

struct FlagDef {
  std::vector<std::string_view> names;  // without dashes
  FlagKind kind;
  // Applies the flag's value to the options. For bool flags `value` is "true"/"false".
  std::function<void(Options&, const std::string& value)> apply;
  std::string_view unsupported_why = {};
};

int to_int(const std::string& flag, const std::string& v) {
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    throw FlagError(fmt::format("invalid value \"{}\" for flag -{}: parse error", v, flag));
  }
  return out;
}

bool to_bool(const std::string& flag, const std::string& v) {
  // Go's strconv.ParseBool.
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  throw FlagError(fmt::format("invalid boolean value \"{}\" for -{}: parse error", v, flag));
}

void apply_cluster_url(Options& o, const std::string& v) {
  Url u = parse_url(v);
  o.cluster.host = u.host;
  o.cluster.port = u.port;
  if (!u.user.empty()) {
    o.cluster.user = u.user;
    o.cluster.password = u.password;
  }
}

std::vector<std::string> split_routes(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto b = part.find_first_not_of(" \t");
    auto e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

const std::vector<FlagDef>& flag_table() {
  static const std::vector<FlagDef> table = {
      // Server options
      {{"a", "addr", "net"}, FlagKind::kString, [](Options& o, const std::string& v) { o.host = v; }},
      {{"p", "port"}, FlagKind::kInt, [](Options& o, const std::string& v) { o.port = to_int("port", v); }},
      {{"n", "name", "server_name"}, FlagKind::kString, [](Options& o, const std::string& v) { o.server_name = v; }},
      {{"P", "pid"}, FlagKind::kString, [](Options& o, const std::string& v) { o.pid_file = v; }},
      {{"m", "http_port"}, FlagKind::kInt, [](Options& o, const std::string& v) { o.http_port = to_int("http_port", v); }},
      {{"ms", "https_port"}, FlagKind::kInt,
       [](Options& o, const std::string& v) { o.https_port = to_int("https_port", v); }},
      {{"c", "config"}, FlagKind::kString, nullptr},  // handled before the others
      {{"t"}, FlagKind::kBool, nullptr},
      {{"sl", "signal"}, FlagKind::kString, nullptr},
      {{"client_advertise"}, FlagKind::kString, [](Options& o, const std::string& v) { o.client_advertise = v; }},
      {{"ports_file_dir"}, FlagKind::kUnsupported, nullptr, "ports files are not supported yet"},
      // Logging
      {{"l", "log"}, FlagKind::kString, [](Options& o, const std::string& v) { o.log_file = v; }},
      {{"T", "logtime"}, FlagKind::kBool, [](Options& o, const std::string& v) { o.logtime = to_bool("logtime", v); }},
      {{"s", "syslog"}, FlagKind::kUnsupported, nullptr, "syslog output is not supported; use -l <file> or stderr"},
      {{"r", "remote_syslog"}, FlagKind::kUnsupported, nullptr, "remote syslog is not supported; use -l <file> or stderr"},
      {{"D", "debug"}, FlagKind::kBool, [](Options& o, const std::string& v) { o.debug = to_bool("debug", v); }},
      {{"V", "trace"}, FlagKind::kBool, [](Options& o, const std::string& v) { o.trace = to_bool("trace", v); }},
      {{"VV"}, FlagKind::kBool, [](Options& o, const std::string& v) { o.trace = to_bool("VV", v); }},
      {{"DV"}, FlagKind::kBool,
       [](Options& o, const std::string& v) { o.debug = o.trace = to_bool("DV", v); }},
      {{"DVV"}, FlagKind::kBool,
       [](Options& o, const std::string& v) { o.debug = o.trace = to_bool("DVV", v); }},
      {{"log_size_limit"}, FlagKind::kInt,
       [](Options& o, const std::string& v) { o.log_size_limit = to_int("log_size_limit", v); }},
      {{"max_traced_msg_len"}, FlagKind::kInt,
       [](Options& o, const std::string& v) { o.max_traced_msg_len = to_int("max_traced_msg_len", v); }},
      // JetStream
      {{"js", "jetstream"}, FlagKind::kUnsupported, nullptr, "JetStream is not supported by Pylon yet"},
      {{"sd", "store_dir"}, FlagKind::kUnsupported, nullptr, "JetStream (and its store directory) is not supported by Pylon yet"},
      // Authorization
      {{"user"}, FlagKind::kString, [](Options& o, const std::string& v) { o.user = v; }},
      {{"pass"}, FlagKind::kString, [](Options& o, const std::string& v) { o.password = v; }},
      {{"auth"}, FlagKind::kString, [](Options& o, const std::string& v) { o.token = v; }},
      // TLS
      // TLS: gathered, then applied together as the reference's overrideTLS (below).
      {{"tls"}, FlagKind::kBool, nullptr},
      {{"tlscert"}, FlagKind::kString, nullptr},
      {{"tlskey"}, FlagKind::kString, nullptr},
      {{"tlsverify"}, FlagKind::kBool, nullptr},
      {{"tlscacert"}, FlagKind::kString, nullptr},
      // Cluster
      {{"routes"}, FlagKind::kString, [](Options& o, const std::string& v) { o.cluster.routes = split_routes(v); }},
      {{"cluster", "cluster_listen"}, FlagKind::kString, apply_cluster_url},
      {{"cluster_name"}, FlagKind::kString, [](Options& o, const std::string& v) { o.cluster.name = v; }},
      {{"no_advertise"}, FlagKind::kBool,
       [](Options& o, const std::string& v) { o.cluster.no_advertise = to_bool("no_advertise", v); }},
      {{"cluster_advertise"}, FlagKind::kString, [](Options& o, const std::string& v) { o.cluster.advertise = v; }},
      {{"connect_retries"}, FlagKind::kInt,
       [](Options& o, const std::string& v) { o.cluster.connect_retries = to_int("connect_retries", v); }},
      // Profiling
      {{"profile"}, FlagKind::kUnsupported, nullptr, "the Go profiler port does not apply to Pylon"},
      // Pylon's own
      {{"event_loops"}, FlagKind::kInt,
       [](Options& o, const std::string& v) { o.event_loops = to_int("event_loops", v); }},
      // Common
      {{"h", "help"}, FlagKind::kBool, nullptr},
      {{"help_tls"}, FlagKind::kBool, nullptr},
      {{"v", "version"}, FlagKind::kBool, nullptr},
  };
  return table;
}

const FlagDef* find_flag(std::string_view name) {
  for (const auto& f : flag_table()) {
    for (auto n : f.names) {
      if (n == name) return &f;
    }
  }
  return nullptr;
}

// The --tls* flags as the reference's ConfigureOptions: any of them replaces the config file's
// certificates (its timeout, verify_and_map, pinned_certs and handshake_first stay), unless
// -tls=false was given, which turns TLS off.
struct TlsFlags {
  bool any = false, disabled = false;
  bool verify = false;
  std::string cert, key, ca;

  void take(const std::string& name, const std::string& value) {
    if (name == "tls") {
      if (!to_bool("tls", value)) {
        disabled = true;
        any = false;
        return;
      }
    } else if (name == "tlsverify") {
      verify = to_bool("tlsverify", value);
    } else if (name == "tlscert") {
      cert = value;
    } else if (name == "tlskey") {
      key = value;
    } else if (name == "tlscacert") {
      ca = value;
    }
    if (!disabled) any = true;
  }

  void apply(Options& o) const {
    if (disabled) {
      o.tls.enabled = false;
      return;
    }
    if (!any) return;
    if (cert.empty()) throw FlagError("TLS Server certificate must be present and valid");
    if (key.empty()) throw FlagError("TLS Server private key must be present and valid");
    o.tls.enabled = true;
    o.tls.cert_file = cert;
    o.tls.key_file = key;
    o.tls.ca_file = ca;
    o.tls.verify = verify;
    o.tls.cipher_suites.clear();
    o.tls.curve_preferences.clear();
    o.tls.insecure = false;
    try {
      tls::Context::make(o.tls, tls::ContextKind::kClient);
    } catch (const std::runtime_error& e) {
      throw FlagError(e.what());
    }
  }
};

}  // namespace

std::string tls_usage_text() {
  // The reference's tlsUsage (opts.go), then the names it accepts.
  std::string out = R"(
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      "./certs/server-cert.pem"
        key_file:       "./certs/server-key.pem"
        ca_file:        "./certs/ca.pem"
        verify:         true
        verify_and_map: true

        cipher_suites: [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
        curve_preferences: [
            "CurveP256",
            "CurveP384",
            "CurveP521"
        ]
    }

Available cipher suites include:
)";
  for (const char* c : tls::kGoCipherSuites) {
    out += fmt::format("    {}\n", c);
  }
  out += "\nAvailable curve preferences include:\n";
  for (const char* c : {"X25519", "CurveP256", "CurveP384", "CurveP521"}) out += fmt::format("    {}\n", c);
  // Where Pylon differs (docs/tls.md).
  out += R"(
Also accepted in the tls block: timeout (handshake, default 2s), pinned_certs, handshake_first
(TLS before INFO, as nats-server 2.10), and, in cluster { tls {} } and a leafnode remote's
tls {}, insecure. OCSP, cert_store, connection_rate_limit and verify_cert_and_check_known_urls
are refused. Ciphers apply to TLS 1.2; TLS 1.3 suites are fixed, as in Go.
)";
  return out;
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  struct Given {
    const FlagDef* def;
    std::string name;
    std::string value;
  };
  std::vector<Given> given;
  std::string config_file;
  bool test_config = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      throw FlagError(fmt::format("unexpected argument \"{}\" (flags only; see --help)", arg));
    }
    if (arg == "--") break;
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name(body), value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_value = true;
    }
    const FlagDef* def = find_flag(name);
    if (!def) throw FlagError(fmt::format("flag provided but not defined: -{}", name));
    if (def->kind == FlagKind::kUnsupported) {
      throw FlagError(fmt::format("option -{} is not supported: {}", name, def->unsupported_why));
    }
    if (def->kind == FlagKind::kBool) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) throw FlagError(fmt::format("flag needs an argument: -{}", name));
      value = argv[++i];
    }
    if (name == "help_tls") {
      // As the reference's PrintTLSHelpAndDie.
      std::cout << tls_usage_text() << std::flush;
      std::exit(0);
    }
    if (name == "h" || name == "help") {
      cl.action = CommandLine::Action::kHelp;
      return cl;
    }
    if (name == "v" || name == "version") {
      cl.action = CommandLine::Action::kVersion;
      return cl;
    }
    if (name == "c" || name == "config") {
      config_file = value;
      continue;
    }
    if (name == "t") {
      test_config = to_bool("t", value);
      continue;
    }
    if (name == "sl" || name == "signal") {
      cl.action = CommandLine::Action::kSignal;
      cl.signal = value;
      continue;
    }
    given.push_back({def, name, value});
  }

  if (!config_file.empty()) {
    cl.warnings = load_config_file(config_file, cl.opts);
    cl.opts.config_file = config_file;
  }
  TlsFlags tls_flags;
  for (const auto& g : given) {
    if (g.name.rfind("tls", 0) == 0) {
      tls_flags.take(g.name, g.value);
    } else {
      g.def->apply(cl.opts, g.value);
    }
  }
  tls_flags.apply(cl.opts);
  if (test_config && cl.action == CommandLine::Action::kRun) cl.action = CommandLine::Action::kTestConfig;
  validate_options(cl.opts);
  return cl;
}

std::string usage_text() {
  return R"(
Usage: pylon-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring (needs the tls block)
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to pylon-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --client_advertise <string>  Client URL to advertise to other servers
        --event_loops <n>            Event loops (threads) serving connections (default: one per core)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (same as -V: Pylon has no system account)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace
        --log_size_limit <limit>     Logfile size limit in bytes (default: no limit)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help

Not supported yet (refused with a message): -js/--jetstream,
-sd/--store_dir, -s/--syslog, -r/--remote_syslog, --ports_file_dir, --profile.
)";
}

}  // namespace pylon::server
