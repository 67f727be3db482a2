// `pylon-server --signal <command>[=<pid|pidfile>]`: sends a running server the signal
// for a command, as the reference does: stop=SIGKILL, quit=SIGINT, term=SIGTERM,
// reopen=SIGUSR1, reload=SIGHUP, ldm=SIGUSR2. Without a pid, the pid file from the
// options (-P or the config file) is used.
#pragma once

#include <string>

namespace pylon::server {

// Throws std::runtime_error with a message for the user.
void send_signal_command(const std::string& spec, const std::string& default_pid_file);

}  // namespace pylon::server
