// nkey users in the config (`authorization { users: [{nkey: U...}] }`) and the server's nonce
// check (src/server/client/nkeys.h): what loads, what is refused with the reference's words at
// file:line:col, and each way a CONNECT's signature fails.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "nkeys/nkeys.h"
#include "server/client/nkeys.h"
#include "server/config/config.h"
#include "server/config/config_loader.h"

namespace {

using pylon::nkeys::KeyPair;
using pylon::nkeys::Prefix;

class NkeyUsersConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "pylon-nkey-users-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Loads `text` as a config file; returns the error text ("" when it loaded).
  std::string load(const std::string& text, pylon::Options& o) {
    std::string path = dir_ + "/nkeys.conf";
    std::ofstream(path) << text;
    try {
      pylon::server::load_config_file(path, o);
      pylon::server::validate_options(o);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  std::string dir_;
};

TEST_F(NkeyUsersConfig, NkeyUsersLoadBesidePasswordUsersWithTheirPermissions) {
  std::string a = KeyPair::create(Prefix::kUser).public_key(), b = KeyPair::create(Prefix::kUser).public_key();
  pylon::Options o;
  ASSERT_EQ(load("authorization {\n  users: [\n    {nkey: " + a +
                     ", permissions: {publish: \"a.>\", subscribe: {deny: \"secret\"}}}\n    {nkey: \"" + b +
                     "\"}\n    {user: alice, password: s3cret}\n  ]\n}\n",
                 o),
            "");
  ASSERT_EQ(o.nkeys.size(), 2u);
  EXPECT_EQ(o.nkeys[0].nkey, a);
  EXPECT_EQ(o.nkeys[0].permissions.publish.allow, std::vector<std::string>{"a.>"});
  EXPECT_EQ(o.nkeys[0].permissions.subscribe.deny, std::vector<std::string>{"secret"});
  EXPECT_EQ(o.nkeys[1].nkey, b);
  EXPECT_TRUE(o.nkeys[1].permissions.empty());
  ASSERT_EQ(o.users.size(), 1u);
  EXPECT_EQ(o.users[0].user, "alice");
  EXPECT_TRUE(o.auth_required());

  pylon::Options only;
  ASSERT_EQ(load("authorization { users: [{nkey: " + a + "}] }\n", only), "");
  EXPECT_TRUE(only.auth_required()) << "nkey users alone require auth";
  EXPECT_TRUE(only.users.empty());
}

TEST_F(NkeyUsersConfig, BadEntriesFailWithTheReferenceWordsAndPosition) {
  auto user = KeyPair::create(Prefix::kUser);
  std::string pub = user.public_key();
  std::string account = KeyPair::create(Prefix::kAccount).public_key();
  struct Case {
    std::string entry, error;
  };
  for (const auto& c : std::vector<Case>{
           {"{nkey: " + account + "}", "Not a valid public nkey for a user"},
           {"{nkey: " + user.seed() + "}", "Not a valid public nkey for a user"},
           {"{nkey: UNOTAKEY}", "Not a valid public nkey for a user"},
           // A user key of 31 bytes: nkeys 0.3 takes it, and its Verify would then panic.
           {"{nkey: " + pylon::nkeys::encode(Prefix::kUser, std::vector<uint8_t>(31, 7)) + "}",
            "Not a valid public nkey for a user"},
           {"{nkey: " + pub + ", user: bob}", "Nkey users do not take usernames or passwords"},
           {"{nkey: " + pub + ", password: pw}", "Nkey users do not take usernames or passwords"},
           {"{nkey: " + pub + "}, {nkey: " + pub + "}", "Duplicate nkey \"" + pub + "\" detected"},
       }) {
    SCOPED_TRACE(c.entry);
    pylon::Options o;
    std::string err = load("authorization {\n  users: [" + c.entry + "]\n}\n", o);
    EXPECT_NE(err.find(c.error), std::string::npos) << err;
    EXPECT_NE(err.find("nkeys.conf:2:"), std::string::npos) << err;
  }
  pylon::Options o;
  std::string err = load("authorization { token: abc, users: [{nkey: " + pub + "}] }\n", o);
  EXPECT_NE(err.find("token"), std::string::npos) << "a token and nkey users: " << err;
}

TEST(NkeyNonce, NoncesAreFifteenBase64UrlCharactersAndDiffer) {
  std::string a = pylon::server::make_nonce(), b = pylon::server::make_nonce();
  EXPECT_EQ(a.size(), pylon::server::kNonceLen);
  EXPECT_NE(a, b);
  pylon::nkeys::Bytes raw;
  ASSERT_TRUE(pylon::nkeys::decode_signature_base64(a, raw));
  EXPECT_EQ(raw.size(), pylon::server::kNonceRawLen);
}

TEST(NkeyNonce, ServerIdIsAServerNkey) {
  std::string id = pylon::server::make_server_nkey_id();
  EXPECT_TRUE(pylon::nkeys::is_valid_public_key(id, Prefix::kServer)) << id;
  EXPECT_NE(id, pylon::server::make_server_nkey_id());
}

TEST(NkeyNonce, EachWayASignatureFailsIsTheReferencesDebugLine) {
  using pylon::server::check_nonce_signature;
  auto kp = KeyPair::create(Prefix::kUser);
  std::string pub = kp.public_key();
  std::string nonce = pylon::server::make_nonce();
  std::string good = pylon::nkeys::base64url_encode(kp.sign(nonce));
  EXPECT_EQ(check_nonce_signature(pub, good, nonce), std::nullopt);
  EXPECT_EQ(check_nonce_signature(pub, "", nonce), "Signature missing");
  EXPECT_EQ(check_nonce_signature(pub, "!!", nonce), "Signature not valid base64");
  EXPECT_EQ(check_nonce_signature(pub, good, nonce + "x"), "Signature not verified");
  auto other = KeyPair::create(Prefix::kUser);
  EXPECT_EQ(check_nonce_signature(pub, pylon::nkeys::base64url_encode(other.sign(nonce)), nonce),
            "Signature not verified");
  EXPECT_EQ(check_nonce_signature("UAAA", good, nonce), "User nkey not valid: nkeys: invalid encoded key");
}

}  // namespace
