// A service export's response type, as nats-server 2.9 has it (accounts.go, client.go's
// processServiceImport): `singleton` maps one response back; `stream` and `chunked` behave
// alike (2.9 tests only for Singleton): responses keep coming back until
// response_threshold passes without one, or until an empty message (no headers, no payload)
// ends them, which the requester gets too. The same body runs on Pylon, on nats-server, and
// on mixed clusters with the requester and the responder on different kinds of node.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster_harness.h"

namespace pylon::it::cluster {
namespace {

constexpr Kind P = Kind::kPylon;
constexpr Kind N = Kind::kNats;

constexpr const char* kConfig = R"(
accounts {
  A: {
    users: [ {user: a, password: pa} ]
    exports: [ {service: "svc.single"}, {service: "svc.stream", response: stream},
               {service: "svc.chunked", response: chunked} ]
  }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [ {service: {account: A, subject: "svc.single"}}, {service: {account: A, subject: "svc.stream"}},
               {service: {account: A, subject: "svc.chunked"}} ]
  }
}
)";

// Well above a round trip on a loaded machine.
constexpr auto kArrival = 10s;
// Quiet after the responses expected: no more are coming.
constexpr auto kQuiet = 500ms;

std::string url_as(const Node& n, const std::string& user) {
  return "nats://" + user + ":p" + user + "@127.0.0.1:" + std::to_string(n.client_port());
}

class ResponseTypes : public ::testing::TestWithParam<std::vector<Kind>> {};

TEST_P(ResponseTypes, StreamAndChunkedAlikeEndAtAnEmptyMessage) {
  std::vector<std::unique_ptr<Node>> nodes;
  NodeList list;
  auto configs = GetParam().size() == 1 ? std::vector<NodeConfig>{single_config(GetParam()[0], "rt0", "rt-it")}
                                        : mesh_configs(GetParam(), "rt-it");
  for (auto& cfg : configs) {
    cfg.config = kConfig;
    nodes.push_back(std::make_unique<Node>(std::move(cfg)));
    ASSERT_TRUE(nodes.back()->start());
    list.push_back(nodes.back().get());
  }
  std::string why;
  if (nodes.size() > 1) {
    ASSERT_TRUE(wait_mesh(list, 20s, &why)) << why;
  }

  // The requester in B on the first node, the responder in A on the last.
  auto b = Client::connect({url_as(*nodes.front(), "b")});
  auto a = Client::connect({url_as(*nodes.back(), "a")});
  ASSERT_TRUE(a && b);
  auto requests = std::make_shared<Collector>();
  auto responses = std::make_shared<Collector>();
  auto serve = AsyncSub::make(*a, "svc.*", requests);
  auto inbox = AsyncSub::make(*b, "inbox.>", responses);
  ASSERT_TRUE(a->flush() && b->flush());
  // Until the responder's interest has crossed the route: a request reaches it.
  ASSERT_TRUE(wait_for(
      [&] {
        publish(*b, "svc.single", "warm-up");
        b->flush();
        return requests->wait_count(1, 200ms);
      },
      kArrival));

  std::map<std::string, std::vector<std::string>> got;
  for (const std::string svc : {"svc.single", "svc.stream", "svc.chunked"}) {
    requests->clear();
    size_t before = responses->count();
    ASSERT_EQ(publish(*b, svc, "q", "inbox." + svc), NATS_OK);
    ASSERT_TRUE(b->flush());
    ASSERT_TRUE(requests->wait([&](const auto& ms) {
      for (const auto& m : ms) if (m.subject == svc) return true;
      return false;
    }, kArrival));
    std::string reply;
    for (const auto& m : requests->messages()) if (m.subject == svc) reply = m.reply;
    ASSERT_EQ(reply.rfind("_R_.", 0), 0u) << "a mapped reply: " << reply;
    for (const char* body : {"r1", "r2", "", "r3"}) ASSERT_EQ(publish(*a, reply, body), NATS_OK);
    ASSERT_TRUE(a->flush());
    size_t want = svc == "svc.single" ? 1 : 3;
    responses->wait_count(before + want, kArrival);
    responses->wait_quiet(kQuiet, kArrival);
    for (const auto& m : responses->messages()) {
      if (m.subject == "inbox." + svc) got[svc].push_back(m.data);
    }
  }
  EXPECT_EQ(got["svc.single"], (std::vector<std::string>{"r1"}));
  EXPECT_EQ(got["svc.stream"], (std::vector<std::string>{"r1", "r2", ""})) << "the empty message ends it";
  EXPECT_EQ(got["svc.chunked"], got["svc.stream"]) << "chunked behaves as stream";

  // /accountz names the three types in the reference's words.
  auto body = http_get_body(nodes.front()->http_port(), "/accountz?acc=A");
  ASSERT_TRUE(body);
  std::map<std::string, std::string> types;
  json::value accountz = json::parse(*body);
  for (const auto& e : accountz.at("account_detail").at("exports").as_array()) {
    types[std::string(e.at("subject").as_string())] = std::string(e.at("response_type").as_string());
  }
  EXPECT_EQ(types, (std::map<std::string, std::string>{
                       {"svc.single", "Singleton"}, {"svc.stream", "Streamed"}, {"svc.chunked", "Chunked"}}));
}

INSTANTIATE_TEST_SUITE_P(Servers, ResponseTypes,
                         ::testing::Values(std::vector<Kind>{P}, std::vector<Kind>{N}, std::vector<Kind>{P, N},
                                           std::vector<Kind>{N, P}),
                         [](const auto& info) {
                           std::string name;
                           for (Kind k : info.param) name += std::string(name.empty() ? "" : "_") + kind_name(k);
                           return name;
                         });

}  // namespace
}  // namespace pylon::it::cluster
