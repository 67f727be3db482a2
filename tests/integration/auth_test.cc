// Authorization with several users and publish/subscribe permissions, as the reference.
#include <gtest/gtest.h>

#include "harness.h"

using namespace pylon::it;

namespace {

constexpr const char* kUsersConfig = R"(
listen: 127.0.0.1:{PORT}
authorization {
  users = [
    { user: alice, password: "$2a$11$abcdefghijklmnopqrstuuUCnuixm4ngvxv5GQ9LK1yFHBonHULYe",
      permissions: { publish: { allow: ["orders.>"], deny: ["orders.secret"] }, subscribe: ["replies.*"] } }
    { user: bob, password: builder }
  ]
}
)";

}  // namespace

TEST(Authorization, PermissionViolationsAreReportedAndTheConnectionStays) {
  // alice's bcrypt hash is of "s3cret" (cost 11).
  ServerProcess srv(with_config(kUsersConfig, {}));
  ASSERT_TRUE(srv.start());
  RawClient alice;
  ASSERT_TRUE(alice.connect(srv.port()));
  ASSERT_TRUE(alice.read_info());
  ASSERT_TRUE(alice.handshake(R"({"verbose":false,"pedantic":false,"user":"alice","pass":"s3cret"})"));

  ASSERT_TRUE(alice.send("PUB billing 2\r\nhi\r\n"));
  auto line = alice.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "-ERR 'Permissions Violation for Publish to \"billing\"'");
  ASSERT_TRUE(alice.send("PUB orders.secret 2\r\nhi\r\n"));
  line = alice.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "-ERR 'Permissions Violation for Publish to \"orders.secret\"'");
  ASSERT_TRUE(alice.send("SUB orders.* 1\r\n"));
  line = alice.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "-ERR 'Permissions Violation for Subscription to \"orders.*\"'");
  ASSERT_TRUE(alice.send("SUB orders.* workers 2\r\n"));
  line = alice.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "-ERR 'Permissions Violation for Subscription to \"orders.*\" using queue \"workers\"'");

  // Allowed operations still work on the same connection.
  RawClient bob;
  ASSERT_TRUE(bob.connect(srv.port()));
  ASSERT_TRUE(bob.read_info());
  ASSERT_TRUE(bob.handshake(R"({"verbose":false,"pedantic":false,"user":"bob","pass":"builder"})"));
  ASSERT_TRUE(bob.send("SUB orders.new 1\r\n"));
  ASSERT_TRUE(bob.ping_pong());
  ASSERT_TRUE(alice.send("SUB replies.x 9\r\nPUB orders.new 3\r\nabc\r\n"));
  ASSERT_TRUE(alice.ping_pong());
  auto msg = bob.read_until("abc\r\n");
  ASSERT_TRUE(msg) << "bob gets alice's allowed publish";
  EXPECT_NE(msg->find("MSG orders.new 1 3"), std::string::npos);
  EXPECT_NE(srv.log().find("Publish Violation"), std::string::npos) << srv.log();
}

TEST(Authorization, WrongPasswordOfAKnownUserIsRefusedAndLoggedWithTheAddress) {
  ServerProcess srv(with_config(kUsersConfig, {}));
  ASSERT_TRUE(srv.start());
  RawClient c;
  ASSERT_TRUE(c.connect(srv.port()));
  ASSERT_TRUE(c.read_info());
  std::string got;
  EXPECT_FALSE(c.handshake(R"({"verbose":false,"pedantic":false,"user":"alice","pass":"wrong"})", &got));
  EXPECT_EQ(got, "-ERR 'Authorization Violation'");
  EXPECT_TRUE(c.expect_closed());
  std::string log = srv.log();
  EXPECT_NE(log.find("127.0.0.1:"), std::string::npos);
  EXPECT_NE(log.find("authentication error"), std::string::npos) << log;
  EXPECT_EQ(log.find("wrong"), std::string::npos) << "the log never shows the password";
}

// As the reference's checkAuthforWarnings: a password that is no bcrypt hash, anywhere, is
// warned of once at start; bcrypt hashes and nkeys are not. Against both servers.
TEST(Authorization, PlaintextPasswordsAreWarnedOfAtStart) {
  constexpr std::string_view kWarning = "[WRN] Plaintext passwords detected, use nkeys or bcrypt";
  constexpr const char* kHash = "$2a$11$abcdefghijklmnopqrstuuUCnuixm4ngvxv5GQ9LK1yFHBonHULYe";
  struct Case {
    const char* what;
    ServerOptions opts;
    bool warned;
  };
  const std::vector<Case> cases = {
      {"one user plaintext among bcrypt ones", with_config(kUsersConfig, {}), true},
      {"--user/--pass", with_args({"--user", "u", "--pass", "p"}), true},
      {"every user bcrypt",
       with_config(std::string("listen: 127.0.0.1:{PORT}\nauthorization { users = [ {user: a, password: \"") + kHash +
                       "\"}, {user: b, password: \"" + kHash + "\"} ] }\n",
                   {}),
       false},
      {"a single bcrypt user",
       with_config(std::string("listen: 127.0.0.1:{PORT}\nauthorization { user: u, password: \"") + kHash + "\" }\n",
                   {}),
       false},
      {"a token", with_args({"--auth", "s3cret"}), false},
  };
  for (const auto& c : cases) {
    ServerProcess srv(c.opts);
    ASSERT_TRUE(srv.start()) << c.what;
    ASSERT_TRUE(srv.wait_for_log("Server is ready", 10s)) << c.what << "\n" << srv.log();
    EXPECT_EQ(srv.log().find(kWarning) != std::string::npos, c.warned) << c.what << "\n" << srv.log();
  }
}

namespace {
std::string field(const std::string& out, const std::string& name) {
  auto at = out.find(name + ": ");
  if (at == std::string::npos) return {};
  auto start = at + name.size() + 2;
  return out.substr(start, out.find('\n', start) - start);
}
}  // namespace

TEST(Mkpasswd, AHashFromPylonMkpasswdIsAcceptedByTheServer) {
  std::string out = run_shell(std::string("echo 'correct horse' | ") + PYLON_TOOL_BIN + " mkpasswd -p --cost 4").output;
  std::string hash = field(out, "bcrypt hash");
  ASSERT_EQ(hash.rfind("$2", 0), 0u) << out;
  ServerProcess srv(with_config("listen: 127.0.0.1:{PORT}\nauthorization { user: u, password: \"" + hash + "\" }\n", {}));
  ASSERT_TRUE(srv.start());
  RawClient good;
  ASSERT_TRUE(good.connect(srv.port()));
  ASSERT_TRUE(good.read_info());
  EXPECT_TRUE(good.handshake(R"({"verbose":false,"pedantic":false,"user":"u","pass":"correct horse"})"));
  RawClient bad;
  ASSERT_TRUE(bad.connect(srv.port()));
  ASSERT_TRUE(bad.read_info());
  EXPECT_FALSE(bad.handshake(R"({"verbose":false,"pedantic":false,"user":"u","pass":"wrong horse"})"));
}

TEST(Mkpasswd, WithoutPromptItGeneratesAStrongPasswordAndItsHash) {
  std::string out = run_shell(std::string(PYLON_TOOL_BIN) + " mkpasswd --cost 4 </dev/null").output;
  std::string pass = field(out, "pass");
  std::string hash = field(out, "bcrypt hash");
  EXPECT_EQ(pass.size(), 22u) << out;
  ServerProcess srv(with_config("listen: 127.0.0.1:{PORT}\nauthorization { user: u, password: \"" + hash + "\" }\n", {}));
  ASSERT_TRUE(srv.start());
  RawClient c;
  ASSERT_TRUE(c.connect(srv.port()));
  ASSERT_TRUE(c.read_info());
  EXPECT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"user":"u","pass":")" + pass + R"("})"));
}
