// The server's command line, spelled as the reference server's (nats-server 2.9 --help):
// Go-style flags, where `-p 4222`, `-p=4222`, `--port 4222` and `--port=4222` are one
// thing, boolean flags take no value (`-D`, or `-D=false`), and parsing stops at the first
// argument that is not a flag. Options we do not support yet are refused by name.
//
// Precedence as the reference: defaults, then the config file (-c), then the flags given.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "pylon/options.h"

namespace pylon::server {

// A command-line mistake: the message is for the user; exit code 1.
struct FlagError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  enum class Action { kRun, kHelp, kVersion, kTestConfig, kSignal };
  Action action = Action::kRun;
  Options opts;
  std::string signal;  // for kSignal: "<command>[=<pid|pidfile>]"
  std::vector<std::string> warnings;  // from the config file (unknown keys, ...)
};

// Parses argv (argv[0] is the program). Loads the config file when -c is given.
// Throws FlagError for bad flags and config::ConfigError for a broken config file.
CommandLine parse_command_line(int argc, const char* const* argv);

// The --help text.
std::string usage_text();
// The --help_tls text (the reference's tlsUsage and the names it accepts).
std::string tls_usage_text();

}  // namespace pylon::server
