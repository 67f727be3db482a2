// `--signal <command>[=<pid|pidfile>]` (short form `-sl`), as the reference's main.go and
// server/signal.go: stop = SIGKILL, quit = SIGINT, term = SIGTERM, reopen = SIGUSR1, ldm = SIGUSR2
// (reload = SIGHUP is in reload_test.cc). Each test runs the server binary twice: once as the
// server, once as the command that signals it. Also max_traced_msg_len: how trace lines of
// message payloads are cut.
//
// The reference without a pid signals every process named nats-server on the machine (pgrep), so
// every command here names its target.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

constexpr auto kExitTimeout = 10s;

// A server with a pid file (and -D, so both servers log the signals they trap).
ServerOptions with_pid_file(std::vector<std::string> extra = {}, std::string config = "") {
  ServerOptions o;
  o.config = std::move(config);
  o.args = {"-D", "-P", "{DIR}/server.pid"};
  o.args.insert(o.args.end(), extra.begin(), extra.end());
  return o;
}

std::string pid_file(const ServerProcess& srv) { return srv.dir() + "/server.pid"; }

// Runs `<server binary> <flag> <command>=<target>` and expects it to succeed.
void signal_command(const ServerProcess& srv, const std::string& flag, const std::string& spec) {
  ASSERT_TRUE(wait_for([&] { return !read_file(pid_file(srv)).empty(); }, 5s)) << "no pid file";
  auto r = run_server_binary({flag, spec});
  EXPECT_TRUE(r.exited) << r.output;
  EXPECT_EQ(r.exit_code, 0) << flag << " " << spec << ": " << r.output;
}

RawClient connected(const ServerProcess& srv, std::string_view connect = R"({"verbose":false,"pedantic":false})") {
  RawClient c = raw_connect(srv.port());
  EXPECT_TRUE(c.handshake(connect));
  return c;
}

TEST(SignalCommand, StopKillsTheServer) {
  ServerProcess srv(with_pid_file());
  ASSERT_TRUE(srv.start());
  signal_command(srv, "--signal", "stop=" + pid_file(srv));
  auto status = srv.wait_exit(kExitTimeout);
  ASSERT_TRUE(status) << "still running";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << "wait status " << *status;
}

TEST(SignalCommand, QuitShutsDownAndExitsZero) {
  ServerProcess srv(with_pid_file());
  ASSERT_TRUE(srv.start());
  RawClient c = connected(srv);
  signal_command(srv, "-sl", "quit=" + std::to_string(srv.pid()));  // a pid, not a file
  auto status = srv.wait_exit(kExitTimeout);
  ASSERT_TRUE(status) << "still running";
  ASSERT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_NE(srv.log().find("Trapped \"interrupt\" signal"), std::string::npos) << srv.log();
  EXPECT_TRUE(c.expect_closed(5s));
}

TEST(SignalCommand, TermShutsDown) {
  ServerProcess srv(with_pid_file());
  ASSERT_TRUE(srv.start());
  RawClient c = connected(srv);
  signal_command(srv, "--signal", "term=" + pid_file(srv));
  auto status = srv.wait_exit(kExitTimeout);
  ASSERT_TRUE(status) << "still running";
  ASSERT_TRUE(WIFEXITED(*status)) << "an orderly exit, not a kill: wait status " << *status;
  // nats-server 2.9 exits 1 on SIGTERM; Pylon 0 (ServerCli.SigtermExitsZero).
  if (!using_reference_server()) {
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }
  EXPECT_NE(srv.log().find("Trapped \"terminated\" signal"), std::string::npos) << srv.log();
  EXPECT_TRUE(c.expect_closed(5s));
}

// Clients that wait in the listen backlog while the server begins to shut down (it was
// stopped; SIGTERM and the connections arrived meanwhile): each is closed, registered or
// not, and none is told 'maximum connections exceeded' (Pylon told those its shutdown had
// already refused; the reference closes them without a word). The window is narrow: with the
// old code this test failed about one run in three on the development VM.
TEST(SignalTerm, ClientsAcceptedDuringShutdownAreClosedWithoutAMaximumConnectionsError) {
  ServerProcess srv(with_pid_file());
  ASSERT_TRUE(srv.start());
  ASSERT_EQ(::kill(srv.pid(), SIGSTOP), 0);
  std::vector<RawClient> clients(40);
  for (auto& c : clients) ASSERT_TRUE(c.connect(srv.port()));
  ASSERT_EQ(::kill(srv.pid(), SIGTERM), 0);
  ASSERT_EQ(::kill(srv.pid(), SIGCONT), 0);
  ASSERT_TRUE(srv.wait_exit(kExitTimeout)) << "still running";
  for (size_t i = 0; i < clients.size(); ++i) {
    for (const auto& line : clients[i].read_all_lines(5s)) {
      EXPECT_EQ(line.find("maximum connections"), std::string::npos) << "client " << i << ": " << line;
    }
    EXPECT_TRUE(clients[i].peer_closed()) << "client " << i;
  }
  EXPECT_EQ(srv.log().find("maximum connections exceeded"), std::string::npos) << srv.log();
}

TEST(SignalCommand, LdmEntersLameDuckMode) {
  // The reference refuses a lame_duck_duration under 30 s; the test does not wait for it.
  ServerProcess srv(with_pid_file({}, "lame_duck_duration: \"30s\"\n"));
  ASSERT_TRUE(srv.start());
  RawClient c = connected(srv, R"({"verbose":false,"pedantic":false,"protocol":1})");
  signal_command(srv, "-sl", "ldm=" + pid_file(srv));
  bool told = wait_for([&] {
    auto line = c.read_line(200ms);
    return line && line->rfind("INFO ", 0) == 0 && line->find("\"ldm\":true") != std::string::npos;
  }, 10s, 0ms);
  EXPECT_TRUE(told) << "the client was not told of lame duck mode";
  EXPECT_TRUE(srv.wait_for_log("Entering lame duck mode", 5s)) << srv.log();
  EXPECT_TRUE(srv.running());
  srv.kill();  // in lame duck mode the reference ignores SIGTERM
}

TEST(SignalCommand, ReopenStartsANewLogFile) {
  ServerProcess srv(with_pid_file({"-l", "{DIR}/server-file.log"}));
  ASSERT_TRUE(srv.start());
  std::string path = srv.dir() + "/server-file.log", rotated = path + ".1";
  ASSERT_TRUE(wait_for([&] { return read_file(path).find("Server is ready") != std::string::npos; }, 5s));
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  signal_command(srv, "--signal", "reopen=" + pid_file(srv));
  EXPECT_TRUE(wait_for([&] { return read_file(path).find("File log re-opened") != std::string::npos; }, 5s))
      << "new file:\n" << read_file(path) << "\nold file:\n" << read_file(rotated);
  EXPECT_EQ(read_file(rotated).find("File log re-opened"), std::string::npos);
}

TEST(SignalCommand, WithoutATargetThePidFileFlagNamesIt) {
  SKIP_IF_REFERENCE("the reference signals every nats-server it finds (pgrep) when no pid is given");
  ServerProcess srv(with_pid_file());
  ASSERT_TRUE(srv.start());
  ASSERT_TRUE(wait_for([&] { return !read_file(pid_file(srv)).empty(); }, 5s));
  auto r = run_server_binary({"-P", pid_file(srv), "--signal", "term"});
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.output;
  auto status = srv.wait_exit(kExitTimeout);
  ASSERT_TRUE(status) << "still running";
  EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
}

TEST(SignalCommand, AnUnknownCommandFailsAndSignalsNothing) {
  ServerProcess srv(with_pid_file());
  ASSERT_TRUE(srv.start());
  ASSERT_TRUE(wait_for([&] { return !read_file(pid_file(srv)).empty(); }, 5s));
  auto r = run_server_binary({"--signal", "bogus=" + std::to_string(srv.pid())});
  EXPECT_TRUE(r.exited);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("unknown signal \"bogus\""), std::string::npos) << r.output;
  EXPECT_TRUE(srv.running());
  RawClient c = connected(srv);
  EXPECT_TRUE(c.ping_pong());
}

// ------------------------------------------------------------------ max_traced_msg_len

TEST(MaxTracedMsgLen, LongPayloadsAreCutInTheTraceAndShortOnesAreNot) {
  ServerProcess srv(with_config("trace: true\nmax_traced_msg_len: 10\n"));
  ASSERT_TRUE(srv.start());
  RawClient c = raw_connect(srv.port());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("PUB long 26\r\nabcdefghijklmnopqrstuvwxyz\r\nPUB exact 10\r\n0123456789\r\n"));
  ASSERT_TRUE(c.ping_pong());
  // As the reference's traceMsg: the first max_traced_msg_len characters, then "...".
  EXPECT_TRUE(srv.wait_for_log("<<- MSG_PAYLOAD: [\"abcdefghij...\"]", 5s)) << srv.log();
  EXPECT_TRUE(srv.wait_for_log("<<- MSG_PAYLOAD: [\"0123456789\"]", 5s)) << srv.log();
  EXPECT_EQ(srv.log().find("klmnop"), std::string::npos) << srv.log();
}

TEST(MaxTracedMsgLen, UnsetTracesTheWholePayload) {
  ServerProcess srv(with_config("trace: true\n"));
  ASSERT_TRUE(srv.start());
  RawClient c = raw_connect(srv.port());
  ASSERT_TRUE(c.handshake());
  std::string payload;
  for (int i = 0; payload.size() < 3000; ++i) payload += std::to_string(i) + ",";
  ASSERT_TRUE(c.send("PUB whole " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n"));
  ASSERT_TRUE(c.ping_pong());
  EXPECT_TRUE(srv.wait_for_log("<<- MSG_PAYLOAD: [\"" + payload + "\"]", 5s))
      << "the whole " << payload.size() << "-byte payload is traced (the default is unlimited)";
}

}  // namespace
}  // namespace pylon::it
