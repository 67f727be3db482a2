// `pylon top` driven as a user would: in a real terminal (tmux on a private socket, a fixed
// 200x50 window), against a server with monitoring on and libnats connections publishing at
// clearly different rates. The screen is read with `capture-pane -p`, polled with deadlines.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/test_certs.h"
#include "harness.h"
#include "nats_c.h"

#ifndef PYLON_TOOL_BIN
#define PYLON_TOOL_BIN "build/pylon"
#endif

namespace pylon::it {
namespace {

// stdout and stderr of a shell command.
ShellResult shell(const std::string& command) { return run_shell(command + " 2>&1"); }

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The connection rows of a `pylon top` screen: the lines after the column headings.
std::vector<std::string> table_rows(const std::string& screen) {
  std::vector<std::string> rows;
  bool in_table = false;
  for (const auto& line : lines_of(screen)) {
    if (!in_table) {
      in_table = line.rfind("  CID ", 0) == 0;
      continue;
    }
    if (line.rfind("  ", 0) != 0 || line.find_first_not_of(' ') == std::string::npos) break;
    rows.push_back(line);
  }
  return rows;
}

std::string first_row(const std::string& screen) {
  auto rows = table_rows(screen);
  return rows.empty() ? std::string() : rows.front();
}

std::string row_named(const std::string& screen, const std::string& name) {
  for (const auto& r : table_rows(screen))
    if (r.find(" " + name + " ") != std::string::npos) return r;
  return {};
}

// A tmux server of our own (-L <unique socket>, no user config), killed on destruction.
class Tmux {
 public:
  explicit Tmux(const TempDir& dir)
      : socket_("pylon-top-" + std::to_string(::getpid()) + "-" + std::to_string(next_id_++)),
        conf_(dir.write("tmux.conf", "set -g remain-on-exit on\nset -g status off\n")) {}
  ~Tmux() {
    shell(base() + " kill-server");
    // kill-server leaves the socket file behind.
    if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  // Runs `command` as the only pane of a detached 200x50 session.
  bool start(const std::string& command) {
    ShellResult r = shell(base() + " new-session -d -s top -x 200 -y 50 " + quoted("exec " + command));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code == 0) socket_path_ = format("#{socket_path}");
    return r.exit_code == 0;
  }
  std::string screen() const { return shell(base() + " capture-pane -p -t top").output; }
  std::string format(const std::string& f) const {
    std::string out = shell(base() + " display-message -p -t top " + quoted(f)).output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }
  // Keys by tmux name ("Enter", "C-c", "q").
  void keys(const std::string& k) const { shell(base() + " send-keys -t top " + quoted(k)); }
  // Characters typed as they are.
  void type(const std::string& text) const { shell(base() + " send-keys -t top -l " + quoted(text)); }
  void resize(int w, int h) const {
    shell(base() + " resize-window -t top -x " + std::to_string(w) + " -y " + std::to_string(h));
  }
  // Dead and reaped. tmux 3.3 sometimes sees the pty close but misses the SIGCHLD, leaving
  // the pane dead without a status (and a zombie): a SIGCHLD to our own tmux server makes
  // it reap.
  bool dead() const {
    if (format("#{pane_dead}") != "1") return false;
    if (!format("#{pane_dead_status}#{pane_dead_signal}").empty()) return true;
    if (pid_t server = static_cast<pid_t>(std::atoi(format("#{pid}").c_str())); server > 0) ::kill(server, SIGCHLD);
    return !format("#{pane_dead_status}#{pane_dead_signal}").empty();
  }
  // The dead pane's exit status; -1 when it did not exit normally (killed by a signal).
  int exit_status() const {
    std::string st = format("#{pane_dead_status}");
    return st.empty() || st.find_first_not_of("0123456789") != std::string::npos ? -1 : std::atoi(st.c_str());
  }
  pid_t pane_pid() const { return static_cast<pid_t>(std::atoi(format("#{pane_pid}").c_str())); }

  // Polls the screen until `pred` holds; on a timeout the last screen goes into the failure.
  bool wait_screen(const std::function<bool(const std::string&)>& pred, milliseconds timeout = 20s) const {
    std::string last;
    bool ok = wait_for([&] { return pred(last = screen()); }, timeout, 100ms);
    if (!ok) ADD_FAILURE() << "screen never matched; last screen:\n" << last;
    return ok;
  }

 private:
  std::string base() const { return "tmux -L " + socket_ + " -f " + quoted(conf_); }
  static inline int next_id_ = 0;
  std::string socket_;
  std::string conf_;
  std::string socket_path_;
};

// A named libnats connection publishing `per_tick` messages every `tick` until destroyed.
class Publisher {
 public:
  Publisher(const std::string& url, const std::string& name, std::string subject, int per_tick, milliseconds tick)
      : subject_(std::move(subject)) {
    conn_ = nats_connect(url, [&](natsOptions* o) { natsOptions_SetName(o, name.c_str()); });
    if (!conn_) return;
    thread_ = std::thread([this, per_tick, tick] {
      while (!stop_) {
        for (int i = 0; i < per_tick; ++i) natsConnection_PublishString(conn_.get(), subject_.c_str(), "0123456789");
        std::this_thread::sleep_for(tick);
      }
    });
  }
  ~Publisher() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return conn_ != nullptr; }

 private:
  std::string subject_;
  NatsConn conn_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class TopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_port_ = pick_free_port();
    server_ = std::make_unique<ServerProcess>(with_args({"-m", std::to_string(monitor_port_)}));
    ASSERT_TRUE(server_->start());
    // Connected in this order, so cid order (slow, medium, fast, listener) is not rate order.
    slow_ = std::make_unique<Publisher>(server_->url(), "slow", "top.slow", 1, 100ms);          // ~10/s
    medium_ = std::make_unique<Publisher>(server_->url(), "medium", "top.medium", 2, 10ms);     // ~200/s
    fast_ = std::make_unique<Publisher>(server_->url(), "fast", "top.fast", 20, 10ms);          // ~2000/s
    ASSERT_TRUE(slow_->ok() && medium_->ok() && fast_->ok());
    listener_ = nats_connect(server_->url(), [](natsOptions* o) { natsOptions_SetName(o, "listener"); });
    ASSERT_TRUE(listener_);
    listener_sub_ = sub_sync(listener_.get(), "top.slow");
    ASSERT_TRUE(flush(listener_.get()));
  }

  std::string top_command(const std::string& extra = "") const {
    return std::string(PYLON_TOOL_BIN) + " top -s 127.0.0.1 -m " + std::to_string(monitor_port_) + " -d 0.5 " + extra;
  }

  // Waits until the rates are in and the busiest connection leads the table.
  bool wait_busiest_first(const Tmux& tmux) const {
    return tmux.wait_screen([](const std::string& s) {
      std::string first = first_row(s);
      return first.find(" fast ") != std::string::npos && first.find(" - ") == std::string::npos;
    });
  }

  int monitor_port_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Publisher> slow_, medium_, fast_;
  NatsConn listener_;
  NatsSub listener_sub_;
  TempDir dir_;
};

TEST_F(TopTest, ListsTheBusiestConnectionFirstRefreshesSortsAndQuitsCleanlyOnQ) {
  Tmux tmux(dir_);
  // Under a shell that outlives it, so the terminal it hands back can be inspected (a dead
  // pane always reports its cursor hidden).
  ASSERT_TRUE(tmux.start("sh -c " + quoted(top_command() + "; echo \"top exited with status $?\"; exec sleep 600")));

  // Sorted by msgs_rate by default: fast (~2000/s), then medium (~200/s), then the ~10/s ones.
  ASSERT_TRUE(wait_busiest_first(tmux));
  std::string screen = tmux.screen();
  EXPECT_NE(screen.find(" server version "), std::string::npos) << screen;
  EXPECT_NE(screen.find("(uptime: "), std::string::npos) << screen;
  EXPECT_NE(screen.find("Sort: msgs_rate"), std::string::npos) << screen;
  auto rows = table_rows(screen);
  ASSERT_GE(rows.size(), 4u) << screen;
  EXPECT_NE(rows[0].find(" fast "), std::string::npos) << screen;
  EXPECT_NE(rows[1].find(" medium "), std::string::npos) << screen;
  EXPECT_EQ(tmux.format("#{alternate_on}"), "1") << "the view should use the alternate screen";

  // It refreshes: the fast connection's counters move on the screen by themselves.
  std::string before = row_named(screen, "fast");
  ASSERT_FALSE(before.empty());
  tmux.wait_screen([&](const std::string& s) {
    std::string now = row_named(s, "fast");
    return !now.empty() && now != before;
  });

  // o + "cid" + Enter: the server's cid order, the first connection (slow) first.
  tmux.keys("o");
  tmux.wait_screen([](const std::string& s) { return s.find("sort by [msgs_rate]:") != std::string::npos; });
  tmux.type("cid");
  tmux.keys("Enter");
  tmux.wait_screen([](const std::string& s) {
    return s.find("Sort: cid") != std::string::npos && first_row(s).find(" slow ") != std::string::npos;
  });

  // > steps to the next sort key (after cid: start, also oldest first).
  tmux.type(">");
  tmux.wait_screen([](const std::string& s) {
    return s.find("Sort: start") != std::string::npos && first_row(s).find(" slow ") != std::string::npos;
  });
  tmux.type("<");
  tmux.wait_screen([](const std::string& s) { return s.find("Sort: cid") != std::string::npos; });

  // b: numbers in full (the fast publisher's thousands lose their "K"), and back.
  tmux.wait_screen([](const std::string& s) { return row_named(s, "fast").find('K') != std::string::npos; });
  tmux.keys("b");
  tmux.wait_screen([](const std::string& s) {
    std::string fast = row_named(s, "fast");
    return !fast.empty() && fast.find('K') == std::string::npos;
  });
  tmux.keys("b");

  // A wrong key is said so, and the sort stays.
  tmux.keys("o");
  tmux.type("nope");
  tmux.keys("Enter");
  tmux.wait_screen([](const std::string& s) {
    return s.find("invalid sort key: nope") != std::string::npos && s.find("Sort: cid") != std::string::npos;
  });

  // n + "2" + Enter: only the first two connections (in cid order: slow, medium).
  tmux.keys("n");
  tmux.type("2");
  tmux.keys("Enter");
  tmux.wait_screen([](const std::string& s) {
    auto rows = table_rows(s);
    return s.find("Limit: 2 ") != std::string::npos && rows.size() == 2 && rows[0].find(" slow ") != std::string::npos &&
           rows[1].find(" medium ") != std::string::npos;
  });
  tmux.keys("n");
  tmux.type("10");
  tmux.keys("Enter");
  tmux.wait_screen([](const std::string& s) { return table_rows(s).size() == 4; });

  // s: the subscriptions column, with the listener's subject.
  tmux.keys("s");
  tmux.wait_screen([](const std::string& s) {
    return s.find("SUBSCRIPTIONS") != std::string::npos && row_named(s, "listener").find("top.slow") != std::string::npos;
  });

  // ? shows the help page, any key returns to the table.
  tmux.keys("?");
  tmux.wait_screen([](const std::string& s) { return s.find("pylon top: commands") != std::string::npos; });
  tmux.keys("x");
  tmux.wait_screen([](const std::string& s) { return !table_rows(s).empty(); });

  // A narrower window: the layout follows, dropping the least useful columns, keeping the rates.
  tmux.resize(100, 30);
  tmux.wait_screen([](const std::string& s) {
    for (const auto& line : lines_of(s))
      if (line.size() > 100) return false;
    return s.find("MSGS_FROM/s") != std::string::npos && s.find("LAST_ACTIVITY") == std::string::npos &&
           !table_rows(s).empty();
  });

  // q ends it with status 0 and gives the terminal back: alternate screen left, cursor shown.
  tmux.keys("q");
  ASSERT_TRUE(tmux.wait_screen([](const std::string& s) { return s.find("top exited with status") != std::string::npos; }));
  std::string after = tmux.screen();
  EXPECT_NE(after.find("top exited with status 0"), std::string::npos) << after;
  EXPECT_EQ(after.find("CID"), std::string::npos) << "the view was left on the screen:\n" << after;
  EXPECT_EQ(tmux.format("#{alternate_on}"), "0");
  EXPECT_EQ(tmux.format("#{cursor_flag}"), "1") << "cursor left hidden";
}

TEST_F(TopTest, CtrlCAndSigtermRestoreTheTerminal) {
  {
    Tmux tmux(dir_);
    ASSERT_TRUE(tmux.start(top_command()));
    ASSERT_TRUE(tmux.wait_screen([](const std::string& s) { return !table_rows(s).empty(); }));
    tmux.keys("C-c");
    ASSERT_TRUE(wait_for([&] { return tmux.dead(); }, 10s, 50ms)) << tmux.screen();
    EXPECT_EQ(tmux.exit_status(), 0);
    EXPECT_EQ(tmux.format("#{alternate_on}"), "0");
  }
  {
    Tmux tmux(dir_);
    ASSERT_TRUE(tmux.start(top_command()));
    ASSERT_TRUE(tmux.wait_screen([](const std::string& s) { return !table_rows(s).empty(); }));
    pid_t pid = tmux.pane_pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    ASSERT_TRUE(wait_for([&] { return tmux.dead(); }, 10s, 50ms)) << tmux.screen();
    EXPECT_EQ(tmux.exit_status(), 0);
    EXPECT_EQ(tmux.format("#{alternate_on}"), "0");
  }
}

TEST_F(TopTest, QuitsByItselfAfterMaxRefreshes) {
  Tmux tmux(dir_);
  ASSERT_TRUE(tmux.start(top_command("-r 3")));
  ASSERT_TRUE(wait_for([&] { return tmux.dead(); }, 20s, 50ms)) << tmux.screen();
  EXPECT_EQ(tmux.exit_status(), 0);
  EXPECT_EQ(tmux.format("#{alternate_on}"), "0");
}

TEST_F(TopTest, ShowsALostServerInTheViewAndRecoversWhenItIsBack) {
  Tmux tmux(dir_);
  ASSERT_TRUE(tmux.start(top_command()));
  ASSERT_TRUE(wait_busiest_first(tmux));

  slow_.reset();
  medium_.reset();
  fast_.reset();
  listener_sub_.reset();
  listener_.reset();
  server_->stop();
  tmux.wait_screen([](const std::string& s) {
    return s.find("error: ") != std::string::npos && s.find("connection refused") != std::string::npos &&
           s.find("retrying") != std::string::npos;
  });
  EXPECT_FALSE(tmux.dead()) << "a failure after start must not end the view";

  // Same monitoring port again: the view picks the server up and the error goes.
  ASSERT_TRUE(server_->start());
  tmux.wait_screen([](const std::string& s) {
    return s.find("error: ") == std::string::npos && s.find("Connections Polled: 0 of 0") != std::string::npos;
  });
  tmux.keys("q");
  ASSERT_TRUE(wait_for([&] { return tmux.dead(); }, 10s, 50ms));
  EXPECT_EQ(tmux.exit_status(), 0);
}

TEST_F(TopTest, OneShotSnapshotForScripts) {
  ShellResult r = shell("timeout 30 " + top_command("-o -"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Connections Polled: 4 of 4"), std::string::npos) << r.output;
  auto rows = table_rows(r.output);
  ASSERT_EQ(rows.size(), 4u) << r.output;
  EXPECT_NE(rows[0].find(" fast "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\x1b"), std::string::npos) << "no terminal control codes in a snapshot";

  // -n keeps the busiest N.
  r = shell("timeout 30 " + top_command("-o - -n 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  rows = table_rows(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  EXPECT_NE(rows[0].find(" fast "), std::string::npos) << r.output;
}

// --acc (issue 13): a server with two accounts; each view lists that account's connections
// only, says which account it shows, and names each connection's account.
TEST(TopAccounts, FiltersByAccountAndNamesEachConnectionsAccount) {
  const int monitor = pick_free_port();
  ServerProcess server(with_config(R"(
    accounts {
      SALES: { users: [ { user: s, password: s } ] }
      OPS: { users: [ { user: o, password: o } ] }
    }
  )",
                                   {"-m", std::to_string(monitor)}));
  ASSERT_TRUE(server.start());
  auto as = [&](const char* user, const char* name) {
    return nats_connect("nats://" + std::string(user) + ":" + user + "@127.0.0.1:" + std::to_string(server.port()),
                        [name](natsOptions* o) { natsOptions_SetName(o, name); });
  };
  NatsConn s1 = as("s", "sales-1"), s2 = as("s", "sales-2"), o1 = as("o", "ops-1");
  ASSERT_TRUE(s1 && s2 && o1);
  auto snapshot = [&](const std::string& flags) {
    return shell("timeout 30 " + std::string(PYLON_TOOL_BIN) + " top -m " + std::to_string(monitor) +
                 " -sort cid -d 0.2 -o - " + flags);
  };

  ShellResult r = snapshot("-acc SALES");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("  Account: SALES (2 open connections)"), std::string::npos) << r.output;
  auto rows = table_rows(r.output);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  for (const auto& row : rows) EXPECT_NE(row.find(" SALES "), std::string::npos) << row;
  EXPECT_EQ(r.output.find("ops-1"), std::string::npos) << r.output;

  r = snapshot("--acc OPS");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  rows = table_rows(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  EXPECT_NE(rows[0].find("ops-1"), std::string::npos) << r.output;
  EXPECT_NE(rows[0].find(" OPS "), std::string::npos) << r.output;

  // Without --acc: every connection, each with its account.
  r = snapshot("");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ACCOUNT"), std::string::npos) << r.output;
  EXPECT_EQ(table_rows(r.output).size(), 3u) << r.output;
  EXPECT_EQ(r.output.find("  Account: "), std::string::npos) << r.output;
}

TEST(TopCli, UnreachableServerIsAnErrorAtStart) {
  int port = pick_free_port();  // nothing listens there
  ShellResult r = shell("timeout 30 " + std::string(PYLON_TOOL_BIN) + " top -m " + std::to_string(port));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("pylon top: /varz smoke test failed: Get \"http://127.0.0.1:" + std::to_string(port) +
                          "/varz\": dial tcp 127.0.0.1:" + std::to_string(port) + ": connect: connection refused"),
            std::string::npos)
      << r.output;
}

TEST(TopCli, BadFlagsAreRefusedClearly) {
  ShellResult r = shell(std::string(PYLON_TOOL_BIN) + " top -sort nope");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("invalid option to sort by: nope"), std::string::npos) << r.output;
  // Certificates mean nothing to a plain http endpoint: said so, not silently ignored.
  r = shell(std::string(PYLON_TOOL_BIN) + " top -m 8222 --tlscacert ca.pem");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("need an HTTPS monitoring port: -s https://host:port or -ms PORT"), std::string::npos)
      << r.output;
  r = shell(std::string(PYLON_TOOL_BIN) + " top -s ftp://127.0.0.1:8222");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("monitoring URLs are http:// or https://, not ftp://"), std::string::npos) << r.output;
}

// `pylon top` over HTTPS (issue 12): a Pylon whose only monitoring port is https_port, with the
// test CA's server certificate. A snapshot's header names the server's client port, so it came
// from that server's /varz, over TLS.
class TopHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& c = pylon::testing::test_certs();
    https_port_ = pick_free_port();
    server_ = std::make_unique<ServerProcess>(with_config("tls {\n  cert_file: \"" + c.server_cert() +
                                                          "\"\n  key_file: \"" + c.server_key() + "\"\n}\n" +
                                                          "https_port: " + std::to_string(https_port_) + "\n"));
    ASSERT_TRUE(server_->start());
    ASSERT_TRUE(server_->wait_for_log("Starting https monitor on 127.0.0.1:" + std::to_string(https_port_), 10s))
        << server_->log();
  }
  // A one-shot snapshot (two polls 0.2 s apart) with these flags.
  ShellResult top(const std::string& flags) const {
    return shell("timeout 30 " + std::string(PYLON_TOOL_BIN) + " top " + flags + " -o - -d 0.2");
  }
  std::string https_url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(https_port_);
  }
  // The snapshot's header line that only this server's /varz can have produced.
  std::string header() const { return "Clients: 127.0.0.1:" + std::to_string(server_->port()); }

  int https_port_ = 0;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TopHttpsTest, PollsAnHttpsPortVerifyingItsCertificateWithTheGivenCa) {
  const auto& c = pylon::testing::test_certs();
  ShellResult r = top("-s " + https_url() + " --tlscacert " + c.ca());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(header()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Connections Polled: 0 of 0"), std::string::npos) << r.output;
  // By name too: the certificate is for localhost as well as 127.0.0.1.
  r = top("-s " + https_url("localhost") + " --tlscacert " + c.ca());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(header()), std::string::npos) << r.output;
}

TEST_F(TopHttpsTest, TakesNatsTopsFlags) {
  const auto& c = pylon::testing::test_certs();
  ShellResult r = top("-s 127.0.0.1 -ms " + std::to_string(https_port_) + " -cacert " + c.ca());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(header()), std::string::npos) << r.output;
  r = top("-s 127.0.0.1 -ms " + std::to_string(https_port_) + " -k");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(header()), std::string::npos) << r.output;
}

// A certificate the tool cannot trust ends it at start, in the words nats-top (Go) would use;
// --tlsinsecure is the way past it for a test server.
TEST_F(TopHttpsTest, AnUntrustedCertificateIsRefusedUnlessInsecure) {
  const auto& c = pylon::testing::test_certs();
  const std::string refused = "pylon top: /varz smoke test failed: Get \"" + https_url() +
                              "/varz\": tls: failed to verify certificate: x509: certificate signed by unknown authority";
  ShellResult r = top("-s " + https_url());  // the system's CAs do not know the test CA
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(refused), std::string::npos) << r.output;
  r = top("-s " + https_url() + " --tlscacert " + c.other_ca());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(refused), std::string::npos) << r.output;

  r = top("-s " + https_url() + " --tlsinsecure");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(header()), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pylon::it
