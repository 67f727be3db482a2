// Options from config files: the user's node files load into the expected options, flags
// override the file, and mistakes are reported with file:line:column.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "../common/test_certs.h"
#include "nkeys/nkeys.h"
#include "server/leafnode/credentials.h"
#include "server/config/config.h"
#include "server/config/config_loader.h"
#include "server/config/flags.h"

namespace {

std::string testdata(const std::string& name) {
  return std::string(PYLON_SOURCE_DIR) + "/tests/unit/testdata/config/" + name;
}

// A directory of its own per test, removed with everything in it at the end: fixed
// names under /tmp would be shared by every build of the suite running at once.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ::testing::TempDir() + "pylon-config-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

 private:
  std::string path_;
};

TEST(ConfigLoader, TheUsersNodeFileLoadsIntoOptions) {
  pylon::Options o;
  auto warnings = pylon::server::load_config_file(testdata("nodea.conf"), o);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, 4222);
  EXPECT_EQ(o.http_host, "localhost");
  EXPECT_EQ(o.http_port, 4333);
  EXPECT_EQ(o.user, "ruser");
  EXPECT_EQ(o.password.rfind("$2a$11$", 0), 0u) << "bcrypt hash taken literally";
  EXPECT_EQ(o.auth_timeout, std::chrono::seconds(2));
  EXPECT_EQ(o.cluster.host, "localhost");
  EXPECT_EQ(o.cluster.port, 4248);
  EXPECT_EQ(o.cluster.user, "ruser");
  EXPECT_EQ(o.cluster.password, "T0pS3cr3t");
  ASSERT_EQ(o.cluster.routes.size(), 2u);
  EXPECT_EQ(o.cluster.routes[0], "nats-route://ruser:T0pS3cr3t@localhost:5248");
  EXPECT_FALSE(o.debug);
  EXPECT_TRUE(o.logtime);
  EXPECT_EQ(o.pid_file, "/tmp/nodea.pid");
  EXPECT_EQ(o.max_connections, 100);
  EXPECT_EQ(o.max_subscriptions, 1000);
  EXPECT_EQ(o.max_control_line, 512);
  EXPECT_EQ(o.max_payload, 65536);
  EXPECT_EQ(o.write_deadline, std::chrono::seconds(2));
}

TEST(ConfigLoader, AllThreeUserFilesLoad) {
  for (const char* f : {"nodea.conf", "nodeb.conf", "nodec.conf"}) {
    pylon::Options o;
    EXPECT_NO_THROW(pylon::server::load_config_file(testdata(f), o)) << f;
    EXPECT_EQ(o.cluster.routes.size(), 2u) << f;
  }
}

TEST(ConfigLoader, FlagsOverrideTheFile) {
  std::string path = testdata("nodea.conf");
  const char* argv[] = {"pylon-server", "-c", path.c_str(), "-p", "5999", "-D"};
  auto cl = pylon::server::parse_command_line(6, argv);
  EXPECT_EQ(cl.opts.port, 5999);
  EXPECT_TRUE(cl.opts.debug);
  EXPECT_EQ(cl.opts.max_payload, 65536) << "the rest still comes from the file";
}

TEST(ConfigLoader, UnknownKeysAreWarningsWithTheirPosition) {
  ScratchDir dir;
  auto path = dir.write("unknown.conf", "port: 4222\nfoo_bar: 1\n");
  pylon::Options o;
  auto w = pylon::server::load_config_file(path, o);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("unknown.conf:2:1: unknown field \"foo_bar\""), std::string::npos) << w[0];
}

TEST(ConfigLoader, BadValuesNameFileLineAndColumn) {
  ScratchDir dir;
  auto path = dir.write("badtype.conf", "port: 4222\nmax_connections: \"many\"\n");
  pylon::Options o;
  try {
    pylon::server::load_config_file(path, o);
    FAIL() << "a string for max_connections was accepted";
  } catch (const pylon::config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("badtype.conf:2:18"), std::string::npos) << e.what();
  }
}

TEST(ConfigLoader, UnsupportedFeaturesAreRefusedNotIgnored) {
  ScratchDir dir;
  auto path = dir.write("js.conf", "jetstream {\n  store_dir: /tmp/x\n}\n");
  pylon::Options o;
  try {
    pylon::server::load_config_file(path, o);
    FAIL() << "jetstream was silently accepted";
  } catch (const pylon::config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("js.conf:1:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("JetStream is not supported"), std::string::npos) << e.what();
  }
}

// leafnodes {} (issue 15): the reference's keys, its errors at file:line:col, refusals by name.
TEST(ConfigLoader, LeafnodesBlockIsRead) {
  ScratchDir dir;
  auto path = dir.write("leaf.conf",
                        "accounts { EDGE: {} }\n"
                        "leafnodes {\n  listen: \"127.0.0.1:7422\"\n  advertise: \"edge:7422\"\n"
                        "  authorization { user: leafy, password: s3cret, account: EDGE, timeout: 3 }\n"
                        "  remotes = [ { url: \"nats-leaf://u:p@hub:7422\", account: EDGE },\n"
                        "              { urls: [\"nats-leaf://a:1\", \"nats-leaf://b:2\"], no_randomize: true } ]\n"
                        "  reconnect: 5\n}\n");
  pylon::Options o;
  pylon::server::load_config_file(path, o);
  pylon::server::validate_options(o);
  const auto& l = o.leafnodes;
  EXPECT_EQ("127.0.0.1", l.host);
  EXPECT_EQ(7422, l.port);
  EXPECT_EQ("edge:7422", l.advertise);
  EXPECT_EQ("leafy", l.user);
  EXPECT_EQ("EDGE", l.account);
  EXPECT_EQ(std::chrono::seconds(3), l.auth_timeout);
  ASSERT_EQ(2u, l.remotes.size());
  EXPECT_EQ(std::vector<std::string>{"nats-leaf://u:p@hub:7422"}, l.remotes[0].urls);
  EXPECT_EQ("EDGE", l.remotes[0].account);
  EXPECT_EQ(2u, l.remotes[1].urls.size());
  EXPECT_TRUE(l.remotes[1].no_randomize);
  EXPECT_EQ(std::chrono::seconds(5), l.reconnect);
}

TEST(ConfigLoader, LeafnodesMistakesInTheReferencesWords) {
  ScratchDir dir;
  auto fails_with = [&](const std::string& text, const std::string& words) {
    auto path = dir.write("bad.conf", text);
    pylon::Options o;
    try {
      pylon::server::load_config_file(path, o);
      pylon::server::validate_options(o);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  fails_with("leafnodes { authorization { user: a, password: b, users = [ {user: c, password: d} ] } }\n",
             "can not have a single user/pass and a users array");
  fails_with("leafnodes { authorization { users = [ {user: c, password: d}, {user: c, password: e} ] } }\n",
             "duplicate user \"c\" detected in leafnode authorization");
  fails_with("leafnodes { remotes = [ { url: \"nats-leaf://h:1\", account: NOPE } ] }\n",
             "cannot find local account \"NOPE\" specified in leafnode remote");
  fails_with("leafnodes { remotes = \"x\" }\n", "Expected remotes field to be an array");
  fails_with("leafnodes {\n  tls { cert_file: x }\n}\n", "bad.conf:2:7: missing 'key_file' in TLS configuration");
  fails_with("leafnodes { remotes = [ { url: \"nats-leaf://h:1\", hub: true } ] }\n", "is not supported by Pylon yet");
  // A credentials file is read at load time: what is wrong with it names the line that names it.
  auto remote_with = [](const std::string& creds) {
    return "leafnodes {\n  remotes = [ {\n    url: \"nats-leaf://h:1\"\n    credentials: \"" + creds + "\"\n  } ]\n}\n";
  };
  fails_with(remote_with(dir.path() + "/missing.creds"),
             "bad.conf:4:18: open " + dir.path() + "/missing.creds: no such file or directory");
  fails_with(remote_with(dir.write("seedless.creds", "-----BEGIN NATS USER JWT-----\neyJhbGciOi.x.y\n------END NATS USER "
                                                     "JWT------\n")),
             "bad.conf:4:18: Credentials file malformed");
  fails_with(remote_with(dir.write("badseed.creds", "-----BEGIN NATS USER JWT-----\neyJhbGciOi.x.y\n------END NATS USER "
                                                    "JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUNOTASEED\n------END "
                                                    "USER NKEY SEED------\n")),
             "bad.conf:4:18: Credentials file has malformed seed");
}

// Leaf node TLS and credentials (issue 15): the listener's tls block, a remote's tls block
// and its credentials file, read as the reference's parseLeafNodes / parseRemoteLeafNodes.
TEST(ConfigLoader, LeafnodeTlsAndCredentialsAreRead) {
  const auto& c = pylon::testing::test_certs();
  ScratchDir dir;
  std::string seed = pylon::nkeys::KeyPair::create(pylon::nkeys::Prefix::kUser).seed();
  auto creds = dir.write("leaf.creds", "-----BEGIN NATS USER JWT-----\neyJhbGciOi.x.y\n------END NATS USER JWT------\n\n"
                                       "************************* IMPORTANT *************************\n\n"
                                       "-----BEGIN USER NKEY SEED-----\n" + seed + "\n------END USER NKEY SEED------\n");
  pylon::Options o;
  auto path = dir.write("l.conf", "leafnodes {\n  port: 7422\n  tls {\n    cert_file: \"" + c.server_cert() +
                                      "\"\n    key_file: \"" + c.server_key() + "\"\n    ca_file: \"" + c.ca() +
                                      "\"\n    verify: true\n  }\n  remotes = [ {\n    url: \"tls://127.0.0.1:7422\"\n"
                                      "    credentials: \"" + creds + "\"\n    tls { ca_file: \"" + c.ca() +
                                      "\", insecure: true, timeout: 3 }\n  } ]\n}\n");
  auto w = pylon::server::load_config_file(path, o);
  EXPECT_TRUE(w.empty()) << w.front();
  const auto& l = o.leafnodes;
  EXPECT_TRUE(l.tls.enabled);
  EXPECT_TRUE(l.tls.verify);
  EXPECT_EQ(l.tls.cert_file, c.server_cert());
  ASSERT_EQ(1u, l.remotes.size());
  EXPECT_EQ(l.remotes[0].credentials, creds);
  EXPECT_TRUE(l.remotes[0].tls.enabled);
  EXPECT_TRUE(l.remotes[0].tls.insecure);
  EXPECT_EQ(l.remotes[0].tls.ca_file, c.ca());
  EXPECT_EQ(l.remotes[0].tls.timeout, std::chrono::seconds(3));
  EXPECT_FALSE(o.tls.enabled) << "the leafnode blocks are not the clients'";
  auto read = pylon::server::read_leaf_credentials(creds);
  EXPECT_EQ(read.jwt, "eyJhbGciOi.x.y");
  EXPECT_EQ(read.key.seed(), seed);
}

// HTTPS monitoring (issue 12): `https` (host:port, as `http`), `https_port`, and -ms.
TEST(ConfigLoader, HttpsMonitoringKeysAndFlag) {
  ScratchDir dir;
  pylon::Options o;
  pylon::server::load_config_file(dir.write("a.conf", "https: \"127.0.0.2:8443\"\n"), o);
  EXPECT_EQ(o.http_host, "127.0.0.2");
  EXPECT_EQ(o.https_port, 8443);
  EXPECT_EQ(o.http_port, 0);
  pylon::Options p;
  pylon::server::load_config_file(dir.write("b.conf", "https_port: -1\n"), p);
  EXPECT_EQ(p.https_port, -1);
  for (auto args : std::vector<std::vector<const char*>>{{"x", "-ms", "7443"}, {"x", "--https_port=7443"}}) {
    auto cl = pylon::server::parse_command_line(static_cast<int>(args.size()), args.data());
    EXPECT_EQ(cl.opts.https_port, 7443);
  }
}

// Route TLS (issue 12): cluster { tls {} } is read like the top-level block, with `insecure`,
// which only routes may use.
TEST(ConfigLoader, ClusterTlsBlockIsRead) {
  const auto& c = pylon::testing::test_certs();
  ScratchDir dir;
  pylon::Options o;
  auto path = dir.write("c.conf", "cluster {\n  port: 6222\n  tls {\n    cert_file: \"" + c.server_cert() +
                                      "\"\n    key_file: \"" + c.server_key() + "\"\n    ca_file: \"" + c.ca() +
                                      "\"\n    insecure: true\n    timeout: 3\n  }\n}\n");
  auto w = pylon::server::load_config_file(path, o);
  EXPECT_TRUE(w.empty()) << w.front();
  EXPECT_TRUE(o.cluster.tls.enabled);
  EXPECT_TRUE(o.cluster.tls.insecure);
  EXPECT_EQ(o.cluster.tls.cert_file, c.server_cert());
  EXPECT_EQ(o.cluster.tls.timeout, std::chrono::seconds(3));
  EXPECT_FALSE(o.tls.enabled) << "the cluster's block is not the clients'";

  // A missing key file stops the load at the block, in the reference's words.
  pylon::Options bad;
  auto broken = dir.write("d.conf", "cluster {\n  tls {\n    cert_file: \"" + c.server_cert() +
                                        "\"\n    key_file: \"" + dir.write("empty.pem", "") + "\"\n  }\n}\n");
  EXPECT_THROW(pylon::server::load_config_file(broken, bad), pylon::config::ConfigError);
}

TEST(Flags, GoStyleSpellingsAreEquivalent) {
  for (auto args : std::vector<std::vector<const char*>>{{"x", "-p", "4999"}, {"x", "-p=4999"}, {"x", "--port", "4999"},
                                                        {"x", "--port=4999"}}) {
    auto cl = pylon::server::parse_command_line(static_cast<int>(args.size()), args.data());
    EXPECT_EQ(cl.opts.port, 4999);
  }
}

TEST(Flags, UnknownAndUnsupportedFlagsAreRefusedByName) {
  const char* unknown[] = {"x", "--bogus"};
  try {
    pylon::server::parse_command_line(2, unknown);
    FAIL();
  } catch (const pylon::server::FlagError& e) {
    EXPECT_NE(std::string(e.what()).find("-bogus"), std::string::npos);
  }
  const char* js[] = {"x", "-js"};
  try {
    pylon::server::parse_command_line(2, js);
    FAIL();
  } catch (const pylon::server::FlagError& e) {
    EXPECT_NE(std::string(e.what()).find("JetStream"), std::string::npos) << e.what();
  }
}

TEST(Flags, ClusterAndRoutesAreParsed) {
  const char* argv[] = {"x", "-cluster", "nats://localhost:4248", "-routes",
                        "nats://localhost:5248, nats://localhost:6248", "-DV"};
  auto cl = pylon::server::parse_command_line(6, argv);
  EXPECT_EQ(cl.opts.cluster.host, "localhost");
  EXPECT_EQ(cl.opts.cluster.port, 4248);
  ASSERT_EQ(cl.opts.cluster.routes.size(), 2u);
  EXPECT_EQ(cl.opts.cluster.routes[1], "nats://localhost:6248");
  EXPECT_TRUE(cl.opts.debug);
  EXPECT_TRUE(cl.opts.trace);
}

}  // namespace
