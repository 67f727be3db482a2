// Operations: config reload on SIGHUP and `--signal reload`, lame duck mode, log reopen.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "harness.h"

using namespace pylon::it;

namespace {

std::string users_config(int port, const std::string& alice_pass, const std::string& extra = "") {
  return "listen: 127.0.0.1:" + std::to_string(port) + "\n" + extra +
         "authorization {\n  users = [\n    { user: alice, password: \"" + alice_pass +
         "\" }\n    { user: bob, password: builder }\n  ]\n}\n";
}

std::string users_config_template(const std::string& alice_pass) {
  return "listen: 127.0.0.1:{PORT}\nauthorization {\n  users = [\n    { user: alice, password: \"" + alice_pass +
         "\" }\n    { user: bob, password: builder }\n  ]\n}\n";
}

bool login(int port, const std::string& user, const std::string& pass, RawClient& c) {
  if (!c.connect(port) || !c.read_info()) return false;
  return c.handshake(R"({"verbose":false,"pedantic":false,"user":")" + user + R"(","pass":")" + pass + R"("})");
}

void rewrite(const ServerProcess& srv, const std::string& text) {
  std::ofstream(srv.dir() + "/server.conf", std::ios::trunc) << text;
}

int run_tool(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST(Reload, ChangedPasswordRefusesTheOldOneAndKeepsAllowedClients) {
  if (using_reference_server()) GTEST_SKIP() << "pylon-specific: exercises pylon's reload path";
  ServerOptions o;
  o.config = users_config_template("old-pass");
  o.port_flag = false;
  ServerProcess srv(o);
  ASSERT_TRUE(srv.start());

  RawClient alice, bob;
  ASSERT_TRUE(login(srv.port(), "alice", "old-pass", alice));
  ASSERT_TRUE(login(srv.port(), "bob", "builder", bob));

  rewrite(srv, users_config(srv.port(), "new-pass"));
  ASSERT_EQ(::kill(srv.pid(), SIGHUP), 0);
  ASSERT_TRUE(srv.wait_for_log("Reloaded server configuration", 5s)) << srv.log();

  // alice's credentials no longer pass: she is told and disconnected; bob stays.
  auto line = alice.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "-ERR 'Authorization Violation'");
  EXPECT_TRUE(alice.expect_closed());
  EXPECT_TRUE(bob.ping_pong()) << "an allowed client is kept across the reload";

  RawClient old_pw, new_pw;
  EXPECT_FALSE(login(srv.port(), "alice", "old-pass", old_pw));
  EXPECT_TRUE(login(srv.port(), "alice", "new-pass", new_pw));
}

TEST(Reload, ABrokenFileKeepsTheRunningConfigAndSaysWhy) {
  if (using_reference_server()) GTEST_SKIP() << "pylon-specific log text";
  ServerOptions o;
  o.config = users_config_template("pw");
  o.port_flag = false;
  o.args = {"-P", "{DIR}/server.pid"};
  ServerProcess srv(o);
  ASSERT_TRUE(srv.start());
  rewrite(srv, "listen: 127.0.0.1:" + std::to_string(srv.port()) + "\nauthorization {\n  user: x\n");
  // The reference's way: --signal reload=<pidfile>.
  ASSERT_EQ(run_tool(std::string(PYLON_SERVER_BIN) + " --signal reload=" + srv.dir() + "/server.pid"), 0);
  ASSERT_TRUE(srv.wait_for_log("Failed to reload server configuration", 5s)) << srv.log();
  EXPECT_NE(srv.log().find("server.conf:4:1"), std::string::npos) << "names file, line and column\n" << srv.log();
  RawClient bob;
  EXPECT_TRUE(login(srv.port(), "bob", "builder", bob)) << "the old configuration is still in force";
}

TEST(Reload, ListenAddressCannotChangeLive) {
  if (using_reference_server()) GTEST_SKIP() << "pylon-specific log text";
  ServerOptions o;
  o.config = "listen: 127.0.0.1:{PORT}\n";
  o.port_flag = false;
  ServerProcess srv(o);
  ASSERT_TRUE(srv.start());
  rewrite(srv, "listen: 127.0.0.1:" + std::to_string(pick_free_port()) + "\n");
  ASSERT_EQ(::kill(srv.pid(), SIGHUP), 0);
  ASSERT_TRUE(srv.wait_for_log("config reload not supported for Port: old=", 5s)) << srv.log();
}

TEST(LameDuck, ClientsAreToldThenClosedAndTheServerExits) {
  if (using_reference_server()) GTEST_SKIP() << "timings are pylon's config";
  // The close is promised within lame_duck_duration (after the grace period): waited for
  // up to a wide multiple of it, so a loaded machine is not mistaken for a broken timer.
  constexpr milliseconds kLameDuckDuration = 2s;  // the config below
  constexpr int kLateFactor = 5;
  ServerProcess srv(with_config("lame_duck_duration: \"2s\"\nlame_duck_grace_period: \"200ms\"\n", {}));
  ASSERT_TRUE(srv.start());
  RawClient c;
  ASSERT_TRUE(c.connect(srv.port()));
  ASSERT_TRUE(c.read_info());
  ASSERT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"protocol":1})"));
  ASSERT_EQ(::kill(srv.pid(), SIGUSR2), 0);
  auto info = c.read_until("\r\n", 5s);
  ASSERT_TRUE(info);
  EXPECT_NE(info->find("INFO "), std::string::npos) << *info;
  EXPECT_NE(info->find("\"ldm\":true"), std::string::npos) << *info;
  // No new clients are accepted.
  EXPECT_TRUE(wait_for([&] {
    RawClient late;
    return !late.connect(srv.port(), 200ms);
  }, 5s));
  EXPECT_TRUE(c.expect_closed(kLameDuckDuration * kLateFactor)) << "closed within lame_duck_duration";
  EXPECT_TRUE(wait_for([&] { return !srv.running(); }, 10s)) << "the server exits after lame duck mode";
  EXPECT_NE(srv.log().find("Entering lame duck mode"), std::string::npos);
}

TEST(LogFile, ReopenOnSigusr1AfterAnExternalRotation) {
  if (using_reference_server()) GTEST_SKIP() << "pylon-specific log text";
  ServerProcess srv(with_args({"-l", "{DIR}/pylon.log"}));
  ASSERT_TRUE(srv.start());
  std::string path = srv.dir() + "/pylon.log";
  std::string rotated = srv.dir() + "/pylon.log.1";
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::kill(srv.pid(), SIGUSR1), 0);
  auto contains = [](const std::string& file, const std::string& needle) {
    std::ifstream in(file);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.find(needle) != std::string::npos;
  };
  EXPECT_TRUE(wait_for([&] { return contains(path, "File log re-opened"); }, 5s)) << "a new file is started";
  EXPECT_TRUE(contains(rotated, "Server is ready")) << "the old file keeps what was written before";
}

TEST(LogFile, SizeLimitRotatesTheFile) {
  if (using_reference_server()) GTEST_SKIP() << "pylon-specific rotation naming";
  ServerProcess srv(with_args({"-l", "{DIR}/pylon.log", "--log_size_limit", "2000", "-D"}));
  ASSERT_TRUE(srv.start());
  // Each connection logs a debug line or two; enough of them pass the limit.
  for (int i = 0; i < 40; ++i) {
    RawClient c;
    ASSERT_TRUE(c.connect(srv.port()));
    ASSERT_TRUE(c.read_info());
  }
  EXPECT_TRUE(wait_for([&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(srv.dir())) {
      if (e.path().filename().string().rfind("pylon.log.", 0) == 0) ++n;
    }
    return n >= 1;
  }, 5s)) << "a rotated file pylon.log.<time> appears";
}
