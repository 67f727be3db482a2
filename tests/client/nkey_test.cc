// The client library as an nkey user (ClientOptions::nkey_seed / nkey_seed_file): it signs the
// nonce of the server's INFO, against an embedded Pylon server and against nats-server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nkeys/nkeys.h"
#include "test_support.h"

namespace pylon::test {
namespace {

class NkeyClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
    ServerSetup s;
    s.nkey_users = {user_.public_key()};
    server_ = make_server(GetParam(), s);
    server_->start();
  }

  void expect_refused(ClientOptions o) {
    Connection c(std::move(o));
    try {
      c.connect();
      ADD_FAILURE() << "connected";
    } catch (const Exception& e) {
      EXPECT_EQ(e.code(), Error::kAuthorization) << e.what();
    }
  }

  nkeys::KeyPair user_ = nkeys::KeyPair::create(nkeys::Prefix::kUser);
  std::unique_ptr<TestServer> server_;
};

TEST_P(NkeyClientTest, ASeedSignsTheNonceAndMessagesFlow) {
  ClientOptions o = client_options(server_->url());
  o.nkey_seed = user_.seed();
  Connection c(o);
  c.connect();
  EXPECT_TRUE(c.is_connected());
  EXPECT_EQ(c.server_info().nonce.size(), 15u) << "the INFO's nonce";
  Inbox inbox;
  auto sub = c.subscribe("nk.lib", inbox.handler());
  c.publish("nk.lib", "signed");
  EXPECT_TRUE(inbox.wait_size(1));
}

TEST_P(NkeyClientTest, ASeedFileWorksPlainOrDecorated) {
  std::string dir = ::testing::TempDir() + "pylon-nkey-client-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::string plain = dir + "/user.nk", decorated = dir + "/user.creds";
  std::ofstream(plain) << user_.seed() << "\n";
  std::ofstream(decorated) << "-----BEGIN USER NKEY SEED-----\n" << user_.seed()
                           << "\n------END USER NKEY SEED------\n";
  for (const auto& path : {plain, decorated}) {
    SCOPED_TRACE(path);
    ClientOptions o = client_options(server_->url());
    o.nkey_seed_file = path;
    Connection c(o);
    c.connect();
    EXPECT_TRUE(c.is_connected());
  }
  std::filesystem::remove_all(dir);
}

TEST_P(NkeyClientTest, AnotherSeedOrNoneIsRefused) {
  ClientOptions other = client_options(server_->url());
  other.nkey_seed = nkeys::KeyPair::create(nkeys::Prefix::kUser).seed();
  other.allow_reconnect = false;
  expect_refused(other);
  ClientOptions none = client_options(server_->url());
  none.allow_reconnect = false;
  expect_refused(none);
}

TEST(NkeyClientOptions, ABadSeedIsRefusedWhenTheConnectionIsMade) {
  ClientOptions o = client_options("nats://127.0.0.1:1");
  o.nkey_seed = nkeys::KeyPair::create(nkeys::Prefix::kUser).public_key();  // a public key, not a seed
  try {
    Connection c(o);
    ADD_FAILURE() << "a public key taken for a seed";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("nkeys: invalid seed"), std::string::npos) << e.what();
  }
  ClientOptions f = client_options("nats://127.0.0.1:1");
  f.nkey_seed_file = "/nonexistent/pylon-test.nk";
  EXPECT_THROW(Connection{f}, Exception);
}

INSTANTIATE_TEST_SUITE_P(Servers, NkeyClientTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

}  // namespace
}  // namespace pylon::test
