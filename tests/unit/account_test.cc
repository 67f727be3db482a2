// Accounts as data structures: the registry (accounts come and go with the config, $G stays),
// the subject mapping of stream imports, and the reply mapping of service imports.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "pylon/options.h"
#include "server/account/account.h"
#include "server/account/stream_import.h"
#include "server/server.h"

namespace {

using pylon::server::Account;
using pylon::server::Accounts;
using pylon::server::SubjectMapping;
using pylon::server::map_subject;

pylon::Options with_accounts(std::initializer_list<const char*> names) {
  pylon::Options o;
  for (const char* n : names) o.accounts.push_back(pylon::AccountConfig{n, {}, {}});
  return o;
}

TEST(AccountRegistry, AccountsComeAndGoWithTheConfigAndTheGlobalOneStays) {
  Accounts reg;
  ASSERT_NE(reg.find("$G"), nullptr);
  EXPECT_EQ(reg.find("$G").get(), &reg.global());
  EXPECT_EQ(reg.find("A"), nullptr);
  uint64_t g0 = reg.generation();

  reg.configure(with_accounts({"A", "B"}));
  auto a = reg.find("A");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(reg.find("B"), nullptr);
  EXPECT_EQ(reg.all().size(), 4u) << "$G, A, B and the implicit system account $SYS";
  EXPECT_EQ(reg.all().front().get(), &reg.global()) << "$G first";
  uint64_t g1 = reg.generation();
  EXPECT_NE(g1, g0);

  reg.configure(with_accounts({"A", "B"}));
  EXPECT_EQ(reg.generation(), g1) << "nothing changed: route caches stay valid";
  EXPECT_EQ(reg.find("A"), a) << "an account kept by a reload is the same object";

  reg.configure(with_accounts({"A", "C"}));
  EXPECT_EQ(reg.find("B"), nullptr);
  EXPECT_NE(reg.find("C"), nullptr);
  EXPECT_NE(reg.generation(), g1);
  EXPECT_NE(reg.find("$G"), nullptr);
}

TEST(AccountRegistry, TheSystemAccountIsImplicitUnlessTurnedOffAndSurvivesReloads) {
  Accounts reg;
  reg.configure(with_accounts({"A"}));
  auto sys = reg.find("$SYS");
  ASSERT_NE(sys, nullptr) << "created implicitly, as the reference's SetDefaultSystemAccount";
  reg.configure(with_accounts({"B"}));
  EXPECT_EQ(reg.find("$SYS"), sys) << "a reload that does not name it keeps it";

  auto named = with_accounts({"A", "SYS"});
  named.system_account = "SYS";
  Accounts reg2;
  reg2.configure(named);
  EXPECT_NE(reg2.find("SYS"), nullptr);
  EXPECT_EQ(reg2.find("$SYS"), nullptr) << "a configured system account replaces the implicit one";

  auto off = with_accounts({"A"});
  off.no_system_account = true;
  Accounts reg3;
  reg3.configure(off);
  EXPECT_EQ(reg3.find("$SYS"), nullptr);
  EXPECT_EQ(off.effective_system_account(), "");
  off.accounts.push_back(pylon::AccountConfig{"$SYS", {}, {}});
  EXPECT_EQ(off.effective_system_account(), "$SYS") << "an account named $SYS is the system account (the reference's configureAccounts)";
}

TEST(AccountRegistry, EachAccountHasItsOwnIndex) {
  Accounts reg;
  reg.configure(with_accounts({"A", "B"}));
  auto sub = std::make_shared<pylon::server::Subscription>("x", "", "1");
  reg.find("A")->index().insert(sub);
  EXPECT_EQ(reg.find("A")->index().match("x")->plain.size(), 1u);
  EXPECT_TRUE(reg.find("B")->index().match("x")->plain.empty());
  EXPECT_TRUE(reg.global().index().match("x")->plain.empty());
  reg.find("A")->index().remove(sub);
}

TEST(StreamImportMapping, PrefixToAndWildcardsMapAsTheReferences) {
  // prefix: "a." + the exporter's subject
  EXPECT_EQ(map_subject(SubjectMapping{"news.>", "a.news.>", "a.", ""}, "news.x.y"), "a.news.x.y");
  // no mapping
  EXPECT_EQ(map_subject(SubjectMapping{"news.>", "news.>", "", ""}, "news.x"), "news.x");
  // a literal `to`
  EXPECT_EQ(map_subject(SubjectMapping{"news.sports", "sports", "", ""}, "news.sports"), "sports");
  // wildcards fill the `to` pattern's wildcards in order
  EXPECT_EQ(map_subject(SubjectMapping{"a.*.>", "b.*.>", "", ""}, "a.1.x.y"), "b.1.x.y");
  EXPECT_EQ(map_subject(SubjectMapping{"orders.*", "in.*.new", "", ""}, "orders.42"), "in.42.new");
}

class ResponseMapping : public ::testing::Test {
 protected:
  ResponseMapping() : server(pylon::Options{}) {
    server.accounts().configure(with_accounts({"A", "B"}));
    exporter = server.accounts().find("A");
    importer = server.accounts().find("B");
  }
  pylon::server::Server server;  // not started: a cluster that is off takes no interest
  std::shared_ptr<Account> exporter, importer;
};

TEST_F(ResponseMapping, ASingletonReplyIsAnsweredOnce) {
  std::string r = exporter->add_response(server, importer, "_INBOX.1", pylon::AccountExport::ResponseType::kSingleton,
                                         std::chrono::minutes(1));
  EXPECT_EQ(r.rfind("_R_.", 0), 0u) << r;
  EXPECT_EQ(exporter->index().match(r)->plain.size(), 1u) << "the exporter's _R_ subscription takes it";
  auto t = exporter->take_response(r);
  EXPECT_EQ(t.importer, importer);
  EXPECT_EQ(t.reply, "_INBOX.1");
  EXPECT_EQ(exporter->take_response(r).importer, nullptr);
  EXPECT_EQ(exporter->pending_responses(), 0u);
}

TEST_F(ResponseMapping, AStreamReplyStaysOpenAndEachRequestGetsItsOwn) {
  std::string r1 = exporter->add_response(server, importer, "_INBOX.1", pylon::AccountExport::ResponseType::kStream,
                                          std::chrono::minutes(1));
  std::string r2 = exporter->add_response(server, importer, "_INBOX.2", pylon::AccountExport::ResponseType::kStream,
                                          std::chrono::minutes(1));
  EXPECT_NE(r1, r2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(exporter->take_response(r1).reply, "_INBOX.1");
  EXPECT_EQ(exporter->take_response(r2).reply, "_INBOX.2");
  EXPECT_EQ(exporter->take_response("_R_.unknown.x").importer, nullptr);
}

}  // namespace
