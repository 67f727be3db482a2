// What the client commands share: connection flags, headers flags, Ctrl-C, the
// progress line, and turning errors into exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pylon/connection.h"

namespace pylon::tools {

// --tlscert, --tlskey, --tlscacert (nats-server's names), --tlsfirst and --tlsinsecure.
struct TlsFlags {
  std::string cert, key, ca;
  bool first = false;     // handshake_first: TLS before INFO (nats-server 2.10+)
  bool insecure = false;  // skip verifying the server's certificate (tests only)
};
void add_tls_flags(CLI::App* cmd, TlsFlags& f);
// Fills `o` from the flags (a CA or certificate asks for TLS with every server).
void apply_tls_flags(const TlsFlags& f, TlsOptions& o);

struct ConnectFlags {
  std::vector<std::string> servers;  // each may be a comma-separated list
  std::string user, password, token;
  std::string nkey_file;             // --nkey: an nkey user's seed file
  std::string name;
  double connect_timeout_s = 2;
  int max_reconnects = 60;
  bool no_randomize = false;
  bool verbose_events = true;        // print disconnect/reconnect/... on stderr
  TlsFlags tls;
};

// Adds -s/--server, --user, --password, --token, --nkey, --name, --connect-timeout,
// --max-reconnects, --no-randomize, --quiet-events and the TLS flags to `cmd`.
void add_connect_flags(CLI::App* cmd, ConnectFlags& f);

// Opens a connection as the flags say (events go to stderr). Throws pylon::Exception.
std::unique_ptr<Connection> open_connection(const ConnectFlags& f, const std::string& default_name);

// "-H Key:Value" flags into headers; throws CLI::ValidationError on a bad one.
Headers parse_headers(const std::vector<std::string>& flags);

// Replaces "{{count}}" in `text` with `n` (so `pylon pub --count 5 s "msg {{count}}"`
// sends distinct messages).
std::string expand(const std::string& text, int64_t n);

// Ctrl-C / SIGTERM: installs handlers; stop_requested() turns true when one arrives.
void install_stop_signals();
bool stop_requested();

// A progress line on stderr, redrawn at most every `every`, only once a run passes one
// second (short runs stay quiet). finish() prints the summary line.
class Progress {
 public:
  Progress(std::string verb, int64_t total, bool enabled);
  void tick(int64_t done, uint64_t bytes);
  void finish(int64_t done, uint64_t bytes);

 private:
  void draw(int64_t done, uint64_t bytes, bool final);
  std::string verb_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// Runs `body`, mapping pylon::Exception to a message on stderr and exit code 1.
int run_command(const char* name, const std::function<int()>& body);

}  // namespace pylon::tools
