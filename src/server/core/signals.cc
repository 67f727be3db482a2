#include "server/core/signals.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace pylon::server {

void send_signal_command(const std::string& spec, const std::string& default_pid_file) {
  std::string command = spec, target;
  if (auto eq = spec.find('='); eq != std::string::npos) {
    command = spec.substr(0, eq);
    target = spec.substr(eq + 1);
  }
  int sig;
  if (command == "stop") sig = SIGKILL;
  else if (command == "quit") sig = SIGINT;
  else if (command == "term") sig = SIGTERM;
  else if (command == "reopen") sig = SIGUSR1;
  else if (command == "reload") sig = SIGHUP;
  else if (command == "ldm") sig = SIGUSR2;
  else throw std::runtime_error(fmt::format("unknown signal \"{}\"", command));

  if (target.empty()) target = default_pid_file;
  if (target.empty()) throw std::runtime_error("no pid given: use --signal <cmd>=<pid|pidfile> or -P <pidfile>");
  bool numeric = !target.empty() && std::all_of(target.begin(), target.end(), [](unsigned char c) { return std::isdigit(c); });
  long pid = 0;
  if (numeric) {
    pid = std::stol(target);
  } else {
    std::ifstream in(target);
    if (!in || !(in >> pid) || pid <= 0) throw std::runtime_error(fmt::format("could not read pid from file {}", target));
  }
  if (::kill(static_cast<pid_t>(pid), sig) != 0) {
    throw std::runtime_error(fmt::format("signal {} to pid {}: {}", command, pid, std::strerror(errno)));
  }
}

}  // namespace pylon::server
