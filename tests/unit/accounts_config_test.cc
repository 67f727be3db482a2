// Accounts in the config file: `accounts {}` blocks load into Options (users bound to their
// account, exports, imports, allow_responses), and every mistake the reference refuses at
// load is refused here too, in its words, with file:line:column.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <string>

#include "server/account/imports_check.h"
#include "server/client/permissions.h"
#include "server/config/config.h"
#include "server/config/config_loader.h"

namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ::testing::TempDir() + "pylon-accounts-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

 private:
  std::string path_;
};

// Loads `text` as a file named `name`; returns the error message ("" when it loaded).
std::string load_error(const std::string& name, const std::string& text, pylon::Options* out = nullptr) {
  ScratchDir dir;
  pylon::Options o;
  try {
    pylon::server::load_config_file(dir.write(name, text), o);
  } catch (const pylon::config::ConfigError& e) {
    return e.what();
  }
  if (out) *out = o;
  return "";
}

constexpr const char* kTwoAccounts = R"(
accounts {
  A: {
    users: [ {user: a, password: pa, permissions: {publish: {deny: "secret.>"}, allow_responses: {max: 3, expires: "5s"}}} ]
    exports: [
      {stream: "news.>"}
      {service: "help", accounts: [B], response_type: stream, response_threshold: "3s"}
    ]
  }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [
      {stream: {account: A, subject: "news.>"}, prefix: "a"}
      {service: {account: A, subject: "help"}, to: "a.help"}
    ]
  }
}
authorization { users: [ {user: g, password: pg} ] }
no_auth_user: b
)";

TEST(AccountsConfig, AccountsUsersExportsAndImportsLoad) {
  pylon::Options o;
  ASSERT_EQ(load_error("two.conf", kTwoAccounts, &o), "");
  ASSERT_EQ(o.accounts.size(), 2u);
  EXPECT_EQ(o.accounts[0].name, "A");
  ASSERT_EQ(o.accounts[0].exports.size(), 2u);
  EXPECT_EQ(o.accounts[0].exports[0].kind, pylon::AccountExport::Kind::kStream);
  EXPECT_EQ(o.accounts[0].exports[0].subject, "news.>");
  const auto& svc = o.accounts[0].exports[1];
  EXPECT_EQ(svc.kind, pylon::AccountExport::Kind::kService);
  EXPECT_EQ(svc.accounts, std::vector<std::string>{"B"});
  EXPECT_EQ(svc.response, pylon::AccountExport::ResponseType::kStream);
  EXPECT_EQ(svc.response_threshold, std::chrono::seconds(3));
  ASSERT_EQ(o.accounts[1].imports.size(), 2u);
  EXPECT_EQ(o.accounts[1].imports[0].prefix, "a");
  EXPECT_EQ(pylon::server::stream_import_subject(o.accounts[1].imports[0]), "a.news.>");
  EXPECT_EQ(o.accounts[1].imports[1].to, "a.help");
  // Users of every account and of authorization share one list, each bound to its account.
  ASSERT_EQ(o.users.size(), 3u);
  std::map<std::string, std::string> account_of;
  for (const auto& u : o.users) account_of[u.user] = u.account;
  EXPECT_EQ(account_of, (std::map<std::string, std::string>{{"a", "A"}, {"b", "B"}, {"g", ""}}));
  EXPECT_EQ(o.no_auth_user, "b");
  const auto& a = o.users[0].user == "a" ? o.users[0] : o.users[1];
  ASSERT_EQ(a.user, "a");
  EXPECT_TRUE(a.permissions.has_response);
  EXPECT_EQ(a.permissions.response.max_msgs, 3);
  EXPECT_EQ(a.permissions.response.expires, std::chrono::seconds(5));
  // allow_responses turns off the blanket allow, a deny list notwithstanding (the reference's
  // parseUserPermissions sets an empty allow list): only replies may be published.
  EXPECT_FALSE(pylon::server::can_publish(a.permissions, "news.x"));
  EXPECT_FALSE(pylon::server::can_publish(a.permissions, "secret.x"));
}

TEST(AccountsConfig, AllowResponsesAloneAllowsNoOtherPublish) {
  pylon::Options o;
  ASSERT_EQ(load_error("resp.conf", "authorization { users: [ {user: r, password: p, permissions: {allow_responses: true}} ] }\n", &o), "");
  ASSERT_EQ(o.users.size(), 1u);
  EXPECT_TRUE(o.users[0].permissions.has_response);
  EXPECT_EQ(o.users[0].permissions.response.max_msgs, 1);
  EXPECT_EQ(o.users[0].permissions.response.expires, std::chrono::minutes(2));
  EXPECT_FALSE(pylon::server::can_publish(o.users[0].permissions, "anything"));
}

TEST(AccountsConfig, AListOfNamesDefinesEmptyAccounts) {
  pylon::Options o;
  ASSERT_EQ(load_error("names.conf", "accounts: [A, B]\n", &o), "");
  ASSERT_EQ(o.accounts.size(), 2u);
  EXPECT_EQ(o.accounts[1].name, "B");
}

// `where` is the line:column of the entry at fault (for a map, its opening brace).
struct BadConfig {
  const char* name;
  const char* text;
  const char* where;
  const char* message;  // the reference's words
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class AccountsConfigRefuses : public ::testing::TestWithParam<BadConfig> {};

TEST_P(AccountsConfigRefuses, WithFileLineColumnInTheReferencesWords) {
  const auto& c = GetParam();
  std::string err = load_error(c.name, c.text);
  ASSERT_FALSE(err.empty()) << c.name << " was accepted";
  EXPECT_NE(err.find(std::string(c.name) + ":" + c.where + ": "), std::string::npos) << err;
  EXPECT_NE(err.find(c.message), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    LoadTime, AccountsConfigRefuses,
    ::testing::Values(
        BadConfig{"unknown_import.conf",
                  "accounts {\n  A: {\n    imports: [\n      {stream: {account: X, subject: \"a\"}}\n    ]\n  }\n}\n",
                  "4:7", "\"X\" account not defined for stream import"},
        BadConfig{"unknown_service.conf",
                  "accounts {\n  A: { imports: [ {service: {account: Nope, subject: \"q\"}} ] }\n}\n", "2:19",
                  "\"Nope\" account not defined for service import"},
        BadConfig{"cycle.conf",
                  "accounts {\n"
                  "  A: { exports: [{stream: \"s\"}], imports: [{stream: {account: B, subject: \"s\"}}] }\n"
                  "  B: { exports: [{stream: \"s\"}], imports: [{stream: {account: A, subject: \"s\"}}] }\n}\n",
                  "3:44", "Error adding stream import \"s\": import forms a cycle"},
        BadConfig{"service_cycle.conf",
                  "accounts {\n"
                  "  A: { exports: [{service: \"q\"}], imports: [{service: {account: B, subject: \"q\"}}] }\n"
                  "  B: { exports: [{service: \"q\"}], imports: [{service: {account: A, subject: \"q\"}}] }\n}\n",
                  "3:45", "Error adding service import \"q\": import forms a cycle"},
        BadConfig{"dup_user.conf",
                  "accounts {\n  A: { users: [{user: u, password: x}] }\n  B: { users: [{user: u, password: y}] }\n}\n",
                  "3:16", "Duplicate user \"u\" detected"},
        BadConfig{"dup_user_auth.conf",
                  "authorization { users: [{user: u, password: x}] }\naccounts { A: { users: [{user: u, password: y}] } }\n",
                  "2:25", "Duplicate user \"u\" detected"},
        BadConfig{"bad_export.conf", "accounts {\n  A: { exports: [ {stream: \"a..b\"} ] }\n}\n", "2:19",
                  "Error adding stream export \"a..b\": invalid subject"},
        BadConfig{"not_exported.conf",
                  "accounts {\n  A: {}\n  B: { imports: [ {stream: {account: A, subject: \"x\"}} ] }\n}\n", "3:19",
                  "Error adding stream import \"x\": stream import not authorized"},
        BadConfig{"private.conf",
                  "accounts {\n  A: { exports: [ {service: \"q\", accounts: [C]} ] }\n"
                  "  B: { imports: [ {service: {account: A, subject: \"q\"}} ] }\n  C: {}\n}\n",
                  "3:19", "Error adding service import \"q\": service import not authorized"},
        BadConfig{"private_unknown.conf", "accounts {\n  A: { exports: [ {stream: \"q\", accounts: [Z]} ] }\n}\n",
                  "2:19", "\"Z\" account not defined for stream export"},
        BadConfig{"wild_prefix.conf",
                  "accounts {\n  A: { exports: [{stream: \"x\"}] }\n"
                  "  B: { imports: [ {stream: {account: A, subject: \"x\"}, prefix: \"p.*\"} ] }\n}\n",
                  "3:19", "stream import prefix can not contain wildcard tokens"},
        BadConfig{"prefix_and_to.conf",
                  "accounts {\n  A: { exports: [{stream: \"x\"}] }\n"
                  "  B: { imports: [ {stream: {account: A, subject: \"x\"}, prefix: \"p\", to: \"y\"} ] }\n}\n",
                  "3:73", "Stream import can not have a 'prefix' and a 'to' property"},
        BadConfig{"reserved.conf", "accounts {\n  $G: {}\n}\n", "2:3", "\"$G\" is a Reserved Account"},
        BadConfig{"no_auth.conf", "authorization { users: [{user: u, password: x}] }\nno_auth_user: v\n", "2:15",
                  "no_auth_user: \"v\" not present as user in authorization block or account configuration"},
        BadConfig{"single_user.conf",
                  "authorization { user: u, password: x }\naccounts { A: { users: [{user: a, password: y}] } }\n",
                  "2:24", "Can not have a single user/pass and accounts"},
        BadConfig{"response_type.conf", "accounts {\n  A: { exports: [ {service: \"q\", response: \"many\"} ] }\n}\n",
                  "2:44", "Unknown response type: \"many\""},
        BadConfig{"response_stream.conf", "accounts {\n  A: { exports: [ {stream: \"q\", response: \"stream\"} ] }\n}\n",
                  "2:43", "Detected response directive on non-service"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) {
      std::string n = info.param.name;
      return n.substr(0, n.find('.'));
    });

TEST(SubjectsCollide, PatternsWithASubjectInCommonCollide) {
  using pylon::server::subjects_collide;
  EXPECT_TRUE(subjects_collide("a.b", "a.b"));
  EXPECT_TRUE(subjects_collide("a.*", "a.b"));
  EXPECT_TRUE(subjects_collide("a.>", "*.b.c"));
  EXPECT_TRUE(subjects_collide(">", "x"));
  EXPECT_FALSE(subjects_collide("a.b", "a.c"));
  EXPECT_FALSE(subjects_collide("a.*", "a.b.c"));
  EXPECT_FALSE(subjects_collide("a", "a.b"));
}

}  // namespace

namespace {
TEST(SystemAccountConfig, SystemAccountAndNoSystemAccountLoad) {
  pylon::Options o;
  ASSERT_EQ(load_error("sys.conf", "accounts { SYS: { users: [ {user: s, password: ps} ] } }\nsystem_account: SYS\n", &o), "");
  EXPECT_EQ(o.system_account, "SYS");
  EXPECT_EQ(o.effective_system_account(), "SYS");
  EXPECT_NO_THROW(pylon::server::validate_options(o));

  pylon::Options d;
  ASSERT_EQ(load_error("default.conf", "port: 4222\n", &d), "");
  EXPECT_EQ(d.effective_system_account(), "$SYS") << "the reference's default system account";

  pylon::Options off;
  ASSERT_EQ(load_error("off.conf", "no_system_account: true\n", &off), "");
  EXPECT_TRUE(off.no_system_account);
  EXPECT_EQ(off.effective_system_account(), "");
}

TEST(SystemAccountConfig, ABadSystemAccountIsRefusedInTheReferencesWords) {
  // Not a string: the reference's configureSystemAccount, at the key.
  std::string err = load_error("bad.conf", "port: 4222\nsystem_account: 5\n");
  EXPECT_NE(err.find("bad.conf:2:1"), std::string::npos) << err;
  EXPECT_NE(err.find("system account name must be a string"), std::string::npos) << err;
  // An account that is not configured ($SYS included: only the implicit default exists unnamed).
  for (const char* text : {"system_account: FOO\n", "system_account: \"$SYS\"\n"}) {
    pylon::Options o;
    ASSERT_EQ(load_error("missing.conf", text, &o), "") << text;
    try {
      pylon::server::validate_options(o);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "error resolving system account: account missing") << text;
    }
  }
}
}  // namespace
