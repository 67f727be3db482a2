// pylon-server: the NATS-protocol message server.
#include <fmt/format.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "server/config/config.h"
#include "server/config/flags.h"
#include "server/core/log.h"
#include "server/server.h"
#include "server/core/signals.h"

using namespace pylon;
using namespace pylon::server;

namespace {

int run(CommandLine& cl, int argc, char** argv) {
  auto log = std::make_shared<Logger>();
  Options& o = cl.opts;
  log->set_time(o.logtime);
  log->set_debug(o.debug);
  log->set_trace(o.trace);
  log->set_size_limit(o.log_size_limit);
  try {
    log->open(o.log_file);
  } catch (const std::exception& e) {
    std::cerr << "pylon-server: " << e.what() << "\n";
    return 1;
  }
  for (const auto& w : cl.warnings) log->warn("{}", w);

  // Block the signals we handle before any thread starts, so only sigwait sees them.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::Server srv(o, log);
  try {
    srv.start();
  } catch (const std::exception& e) {
    log->fatal("{}", e.what());
    return 1;
  }
  if (!o.pid_file.empty()) {
    // As the reference's os.WriteFile: a failed open and a failed write (a full disk)
    // are both fatal, with the reason.
    std::FILE* pf = std::fopen(o.pid_file.c_str(), "w");
    if (!pf) {
      log->fatal("Could not write pidfile: open {}: {}", o.pid_file, std::strerror(errno));
      srv.shutdown();
      return 1;
    }
    std::string pid = std::to_string(::getpid());
    bool written = std::fwrite(pid.data(), 1, pid.size(), pf) == pid.size() && std::fflush(pf) == 0;
    int write_errno = errno;
    if (std::fclose(pf) != 0 && written) {
      written = false;
      write_errno = errno;
    }
    if (!written) {
      log->fatal("Could not write pidfile: write {}: {}", o.pid_file, std::strerror(write_errno));
      ::unlink(o.pid_file.c_str());
      srv.shutdown();
      return 1;
    }
  }

  for (;;) {
    // Wake now and then: lame duck mode ends in a shutdown that no signal announces.
    timespec tick{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig < 0) {
      if (!srv.running()) break;
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM || sig == SIGQUIT) {
      // Debug level, as the reference's signal handler (one Debugf for every signal it traps).
      log->debugf("Trapped \"{}\" signal", sig == SIGINT ? "interrupt" : sig == SIGTERM ? "terminated" : "quit");
      break;
    }
    if (sig == SIGUSR1) {
      log->debugf("Trapped \"user defined signal 1\" signal");
      // The reference exits when the file cannot be opened again; we say why (on stderr,
      // where the log goes until a re-open succeeds) and keep serving.
      try {
        log->reopen();
        log->info("File log re-opened");
      } catch (const std::exception& e) {
        log->error("File log re-open failed, logging to stderr: {}", e.what());
      }
      continue;
    }
    if (sig == SIGHUP) {
      log->debugf("Trapped \"hangup\" signal");
      // Read the file again and apply the same flags on top, as at start.
      try {
        CommandLine next = parse_command_line(argc, argv);
        for (const auto& w : next.warnings) log->warn("{}", w);
        std::string why = srv.reload(std::move(next.opts));
        if (!why.empty()) log->error("Failed to reload server configuration: {}", why);
      } catch (const std::exception& e) {
        log->error("Failed to reload server configuration: {}", e.what());
      }
      continue;
    }
    if (sig == SIGUSR2) {
      log->debugf("Trapped \"user defined signal 2\" signal");
      srv.enter_lame_duck();
      continue;
    }
  }
  srv.shutdown();
  if (!o.pid_file.empty()) ::unlink(o.pid_file.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  try {
    cl = parse_command_line(argc, argv);
  } catch (const FlagError& e) {
    std::cerr << "pylon-server: " << e.what() << "\n" << "Run 'pylon-server --help' for the options.\n";
    return 1;
  } catch (const config::ConfigError& e) {
    std::cerr << "pylon-server: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pylon-server: " << e.what() << "\n";
    return 1;
  }
  switch (cl.action) {
    case CommandLine::Action::kHelp:
      std::cout << usage_text();
      return 0;
    case CommandLine::Action::kVersion:
      std::cout << fmt::format("pylon-server: v{} (NATS protocol of nats-server v{})\n", kPylonVersion,
                               kNatsCompatVersion);
      return 0;
    case CommandLine::Action::kTestConfig:
      std::cout << fmt::format("pylon-server: configuration file {} is valid\n", cl.opts.config_file);
      return 0;
    case CommandLine::Action::kSignal:
      try {
        send_signal_command(cl.signal, cl.opts.pid_file);
        return 0;
      } catch (const std::exception& e) {
        std::cerr << "pylon-server: " << e.what() << "\n";
        return 1;
      }
    case CommandLine::Action::kRun:
      break;
  }
  return run(cl, argc, argv);
}
