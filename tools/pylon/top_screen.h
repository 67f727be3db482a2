// The interactive part of `pylon top`: an ncurses screen redrawn on every poll, a poller
// thread (so a slow or dead server never freezes the keys), and nats-top's commands.
#pragma once

#include "top.h"
#include "top_stats.h"

namespace pylon::tools::top {

// Runs the view until q, Ctrl-C, SIGTERM/SIGHUP or -r refreshes; `first` is the poll made
// at start-up. The terminal is restored on every way out. Returns the exit code.
int run_screen(const TopOptions& o, Poller& poller, Snapshot first);

}  // namespace pylon::tools::top
