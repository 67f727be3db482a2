// The server's command line, log format, pid file and signal handling, as nats-server's.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "harness.h"

namespace pylon::it {
namespace {

constexpr const char* kQuiet = R"({"verbose":false,"pedantic":false})";

// Matches `text` against `shape` at position 0: 'd' = a digit, anything else = itself.
bool matches_shape(std::string_view text, std::string_view shape) {
  if (text.size() < shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !isdigit(static_cast<unsigned char>(text[i])) : text[i] != shape[i]) return false;
  }
  return true;
}

// "[pid] 2026/11/24 20:15:00.123456 [INF] text": returns the pid, or "" if not that shape.
std::string reference_log_pid(const std::string& line) {
  if (line.size() < 3 || line[0] != '[') return "";
  size_t close = line.find("] ");
  if (close == std::string::npos || close < 2) return "";
  std::string pid = line.substr(1, close - 1);
  for (char c : pid)
    if (!isdigit(static_cast<unsigned char>(c))) return "";
  std::string_view rest = std::string_view(line).substr(close + 2);
  if (!matches_shape(rest, "dddd/dd/dd dd:dd:dd.dddddd [")) return "";
  rest.remove_prefix(28);
  for (std::string_view level : {"INF] ", "DBG] ", "TRC] ", "WRN] ", "ERR] ", "FTL] "})
    if (rest.substr(0, 5) == level && rest.size() > 5) return pid;
  return "";
}

// True if `text` contains N.N.N (each N one or more digits).
bool has_version_number(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    size_t j = i;
    int parts = 0;
    for (;;) {
      size_t start = j;
      while (j < text.size() && isdigit(static_cast<unsigned char>(text[j]))) ++j;
      if (j == start) break;
      if (++parts == 3) return true;
      if (j >= text.size() || text[j] != '.') break;
      ++j;
    }
  }
  return false;
}

TEST(ServerCli, PidFileAndLogFileInReferenceFormat) {
  ServerProcess server(with_args({"-P", "{DIR}/server.pid", "-l", "{DIR}/file.log"}));
  ASSERT_TRUE(server.start());
  const std::string pid_path = server.dir() + "/server.pid";
  const std::string log_path = server.dir() + "/file.log";
  ASSERT_TRUE(wait_for([&] { return read_file(pid_path).find(std::to_string(server.pid())) == 0; }, 5s))
      << "pid file holds '" << read_file(pid_path) << "', expected " << server.pid();
  ASSERT_TRUE(wait_for([&] { return read_file(log_path).find("[INF]") != std::string::npos; }, 5s))
      << "no [INF] line in the -l log file";
  std::string text = read_file(log_path);
  std::string first = text.substr(0, text.find('\n'));
  EXPECT_EQ(reference_log_pid(first), std::to_string(server.pid()))
      << "log line not in the reference format '[pid] 2026/11/24 20:15:00.123456 [INF] ...': " << first;
}

TEST(ServerCli, DebugAndTraceLogProtocolOperations) {
  ServerProcess server(with_args({"-DV"}));
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.handshake(kQuiet));
  ASSERT_TRUE(c.send("SUB traced.subject 1\r\n"));
  ASSERT_TRUE(c.ping_pong());
  EXPECT_TRUE(server.wait_for_log("traced.subject", 5s)) << "trace does not show the SUB";
  std::string log = server.log();
  EXPECT_NE(log.find("[TRC]"), std::string::npos);
  EXPECT_NE(log.find("[DBG]"), std::string::npos);
}

TEST(ServerCli, NoTraceByDefault) {
  ServerProcess server;
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.handshake(kQuiet));
  ASSERT_TRUE(c.send("SUB untraced.subject 1\r\n"));
  ASSERT_TRUE(c.ping_pong());
  ASSERT_TRUE(server.wait_for_log("[INF]", 5s));
  EXPECT_EQ(server.log().find("untraced.subject"), std::string::npos);
  EXPECT_EQ(server.log().find("[TRC]"), std::string::npos);
}

TEST(ServerCli, GoStyleFlagsWithEqualsAndDoubleDash) {
  for (auto args : {std::vector<std::string>{"-a=127.0.0.1", "-p={PORT}"},
                    std::vector<std::string>{"--addr=127.0.0.1", "--port={PORT}"},
                    std::vector<std::string>{"--addr", "127.0.0.1", "--port", "{PORT}"}}) {
    ServerOptions opts = with_args(args);
    opts.port_flag = false;
    ServerProcess server(opts);
    ASSERT_TRUE(server.start()) << "flags " << ::testing::PrintToString(args);
    RawClient c = raw_connect(server.port());
    EXPECT_TRUE(c.handshake(kQuiet));
  }
}

TEST(ServerCli, ConfigFileListenAndPort) {
  for (const char* cfg : {"listen: 127.0.0.1:{PORT}\n", "listen: \"127.0.0.1:{PORT}\"\n", "host: 127.0.0.1\nport: {PORT}\n"}) {
    ServerOptions opts = with_config(cfg);
    opts.port_flag = false;
    ServerProcess server(opts);
    ASSERT_TRUE(server.start()) << "config: " << cfg;
    RawClient c = raw_connect(server.port());
    EXPECT_TRUE(c.handshake(kQuiet)) << "config: " << cfg;
  }
}

TEST(ServerCli, SigintClosesClientsAndExitsZero) {
  ServerProcess server;
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.handshake(kQuiet));
  int status = server.terminate(SIGINT);
  ASSERT_TRUE(WIFEXITED(status)) << "raw status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(c.expect_closed(5s));
}

TEST(ServerCli, SigtermExitsZero) {
  SKIP_IF_REFERENCE("nats-server 2.9 exits with status 1 on SIGTERM; Pylon's issue asks for 0");
  ServerProcess server;
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.handshake(kQuiet));
  int status = server.terminate(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << "raw status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(c.expect_closed(5s));
}

TEST(ServerCli, VersionAndHelp) {
  auto v = run_server_binary({"-v"});
  ASSERT_TRUE(v.exited);
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(has_version_number(v.output)) << v.output;
  auto h = run_server_binary({"-h"});
  ASSERT_TRUE(h.exited);
  EXPECT_EQ(h.exit_code, 0);
  for (const char* flag : {"--port", "--addr", "--config", "--user", "--pass", "--auth", "--pid", "--log"})
    EXPECT_NE(h.output.find(flag), std::string::npos) << "-h does not mention " << flag;
}

TEST(ServerCli, UnknownFlagIsAnError) {
  SKIP_IF_REFERENCE("nats-server 2.9 prints usage and exits 0 on an unknown flag; Pylon's issue asks for 1");
  auto r = run_server_binary({"--no-such-flag"});
  ASSERT_TRUE(r.exited) << "did not exit";
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no-such-flag"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pylon::it
