#include "top_screen.h"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "top_view.h"

// Last, and without the function-like macros (timeout(), erase(), refresh(), ...) that
// would rewrite same-named C++ members.
#define NCURSES_NOMACROS
#include <curses.h>

namespace pylon::tools::top {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

volatile sig_atomic_t g_quit = 0;
void on_quit_signal(int) { g_quit = 1; }

// Installed before initscr(): ncurses then leaves SIGINT/SIGTERM to us, and getch()
// returns (no SA_RESTART) so the loop sees the flag and restores the terminal itself.
void install_quit_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_quit_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

// The terminal in curses mode for the lifetime of this object, restored on every exit
// path (exceptions included): cursor shown again, alternate screen left, tty modes back.
class CursesSession {
 public:
  CursesSession() {
    initscr();
    cbreak();  // keys one at a time, Ctrl-C still a signal
    noecho();
    keypad(stdscr, TRUE);
    set_escdelay(25);  // Esc cancels a prompt without a one-second pause
    wtimeout(stdscr, 100);  // getch() waits at most this long: the loop also polls flags
    curs_set(0);
    if (has_colors()) {
      start_color();
      use_default_colors();
      init_pair(1, COLOR_RED, -1);
      error_attr_ = COLOR_PAIR(1) | A_BOLD;
    }
  }
  ~CursesSession() {
    curs_set(1);
    endwin();
  }
  CursesSession(const CursesSession&) = delete;
  CursesSession& operator=(const CursesSession&) = delete;

  int attr(Style s) const {
    switch (s) {
      case Style::kTitle: return A_BOLD;
      case Style::kHeading: return A_REVERSE;
      case Style::kError: return error_attr_;
      case Style::kNormal: break;
    }
    return A_NORMAL;
  }

 private:
  int error_attr_ = A_BOLD;
};

// What the poller thread and the screen share, under `mu`.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  Query query;               // what the next poll asks
  bool refresh_now = false;  // poll without waiting for the interval
  bool stop = false;
  uint64_t generation = 0;   // bumped by every poll, good or failed
  std::optional<Snapshot> latest;
  std::string error;         // the last poll's failure; empty after a good one
};

// Polls every `delay` (or at once on request) until stopped. Failures are reported and
// retried at the same pace: the view keeps the last good data.
void poll_loop(Poller& poller, Shared& sh, Clock::duration delay) {
  auto next = Clock::now() + delay;
  for (;;) {
    std::unique_lock lk(sh.mu);
    sh.cv.wait_until(lk, next, [&] { return sh.stop || sh.refresh_now; });
    if (sh.stop) return;
    sh.refresh_now = false;
    Query q = sh.query;
    lk.unlock();
    auto started = Clock::now();
    std::optional<Snapshot> snap;
    std::string error;
    try {
      snap = poller.poll(q);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lk.lock();
    if (snap) sh.latest = std::move(snap);
    sh.error = std::move(error);
    ++sh.generation;
    next = std::max(started + delay, Clock::now());
  }
}

enum class Prompt { kNone, kSort, kLimit };

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", s);
  return buf;
}

std::string seconds_ago(Clock::time_point t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t).count();
  return std::to_string(s) + "s ago";
}

}  // namespace

int run_screen(const TopOptions& o, Poller& poller, Snapshot first) {
  install_quit_signals();
  const auto delay = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.delay_s));

  Shared sh;
  sh.query = first.query;
  std::thread poll_thread([&] { poll_loop(poller, sh, delay); });
  auto stop_polling = [&] {
    {
      std::lock_guard lk(sh.mu);
      sh.stop = true;
    }
    sh.cv.notify_all();
    if (poll_thread.joinable()) poll_thread.join();
  };

  Snapshot shown = std::move(first);
  Clock::time_point shown_at = Clock::now();
  std::string error;
  uint64_t seen_generation = 0;
  int refreshes = 1;  // the start-up poll is the first
  bool raw = o.raw_bytes;
  bool help = false;
  Prompt prompt = Prompt::kNone;
  std::string input;
  std::string flash;  // a short message on the bottom line
  Clock::time_point flash_until{};

  auto change_query = [&](auto&& edit) {
    {
      std::lock_guard lk(sh.mu);
      edit(sh.query);
      sh.refresh_now = true;
    }
    sh.cv.notify_all();
  };
  auto current_query = [&] {
    std::lock_guard lk(sh.mu);
    return sh.query;
  };
  auto say = [&](std::string text) {
    flash = std::move(text);
    flash_until = Clock::now() + 3s;
  };

  try {
    CursesSession curses;
    bool dirty = true;
    Clock::time_point drawn_at{};
    for (;;) {
      // Take a new poll's result, if there is one.
      {
        std::lock_guard lk(sh.mu);
        if (sh.generation != seen_generation) {
          seen_generation = sh.generation;
          if (sh.error.empty() && sh.latest) {
            shown = std::move(*sh.latest);
            sh.latest.reset();
            shown_at = Clock::now();
            ++refreshes;
          }
          error = sh.error;
          dirty = true;
        }
      }
      if (!flash.empty() && Clock::now() >= flash_until) {
        flash.clear();
        dirty = true;
      }
      // With an error on screen, "last update Ns ago" ages: redraw each second.
      if (!error.empty() && Clock::now() - drawn_at >= 1s) dirty = true;

      if (dirty) {
        ViewOptions view;
        view.width = COLS;
        view.raw_bytes = raw;
        view.delay_s = o.delay_s;
        if (!error.empty())
          view.error = "error: " + error + " - retrying every " + format_seconds(o.delay_s) + ", data from " +
                       seconds_ago(shown_at);
        Query q = current_query();
        std::vector<Line> lines = help ? render_help(q, o.delay_s) : render(shown, view);
        const int rows = LINES - 1;  // the bottom line is for prompts and hints
        if (rows > 1 && static_cast<int>(lines.size()) > rows) {
          size_t hidden = lines.size() - static_cast<size_t>(rows) + 1;
          lines.resize(static_cast<size_t>(rows) - 1);
          lines.push_back({"  ... " + std::to_string(hidden) +
                           (help ? " more lines (a taller window shows them)"
                                 : " more connections (n sets how many; or a taller window)")});
        }
        werase(stdscr);
        for (int i = 0; i < rows && i < static_cast<int>(lines.size()); ++i) {
          int a = curses.attr(lines[i].style);
          wattron(stdscr, a);
          mvwaddnstr(stdscr, i, 0, lines[i].text.c_str(), COLS);
          wattroff(stdscr, a);
        }
        std::string bottom;
        if (prompt == Prompt::kSort) bottom = "sort by [" + q.sort + "]: " + input;
        else if (prompt == Prompt::kLimit) bottom = "limit [" + std::to_string(q.limit) + "]: " + input;
        else if (!flash.empty()) bottom = flash;
        else if (!help) bottom = "q quit  o sort  < > sort key  n limit  s subscriptions  b raw numbers  ? help";
        // Never the bottom-right cell: writing it would scroll the screen.
        mvwaddnstr(stdscr, LINES - 1, 0, bottom.c_str(), COLS > 1 ? COLS - 1 : 0);
        if (prompt != Prompt::kNone) {
          curs_set(1);
          wmove(stdscr, LINES - 1, std::min(static_cast<int>(bottom.size()), COLS - 1));
        } else {
          curs_set(0);
        }
        wrefresh(stdscr);
        dirty = false;
        drawn_at = Clock::now();
      }
      if (o.max_refreshes > 0 && refreshes >= o.max_refreshes) break;

      int ch = wgetch(stdscr);
      if (g_quit) break;
      if (ch == ERR) continue;
      dirty = true;
      if (ch == KEY_RESIZE) continue;  // ncurses has updated LINES/COLS

      if (prompt != Prompt::kNone) {
        if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
          if (prompt == Prompt::kSort) {
            if (find_sort_key(input)) change_query([&](Query& q) { q.sort = input; });
            else if (!input.empty()) say("invalid sort key: " + input + " (? lists them)");
          } else if (!input.empty()) {
            int n = 0;
            if (std::sscanf(input.c_str(), "%d", &n) == 1 && n > 0 && input.find_first_not_of("0123456789") == std::string::npos)
              change_query([&](Query& q) { q.limit = n; });
            else say("invalid limit: " + input + " (a number of connections, 1 or more)");
          }
          prompt = Prompt::kNone;
          input.clear();
        } else if (ch == 27) {
          prompt = Prompt::kNone;
          input.clear();
        } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
          if (!input.empty()) input.pop_back();
        } else if (ch >= 32 && ch < 127 && input.size() < 64) {
          input.push_back(static_cast<char>(ch));
        }
        continue;
      }
      if (ch == 'q') break;
      if (help) {
        help = false;  // any key leaves the help page
        continue;
      }
      switch (ch) {
        case 'o': prompt = Prompt::kSort; break;
        case 'n': prompt = Prompt::kLimit; break;
        case 's': change_query([](Query& q) { q.subs = !q.subs; }); break;
        case 'b': raw = !raw; break;
        case '?':
        case 'h': help = true; break;
        case ' ': change_query([](Query&) {}); break;
        case '<':
        case '>': {
          const auto& keys = sort_keys();
          Query q = current_query();
          size_t at = 0;
          for (size_t i = 0; i < keys.size(); ++i)
            if (keys[i].name == q.sort) at = i;
          at = (at + (ch == '>' ? 1 : keys.size() - 1)) % keys.size();
          std::string next(keys[at].name);
          change_query([&](Query& qq) { qq.sort = next; });
          say("sort by " + next + ": " + std::string(keys[at].description));
          break;
        }
        default: break;
      }
    }
  } catch (...) {
    stop_polling();
    throw;
  }
  // The terminal is already restored (CursesSession is gone); the poller may still be
  // inside a request for up to --timeout.
  stop_polling();
  return 0;
}

}  // namespace pylon::tools::top
