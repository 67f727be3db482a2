// Micro-benchmarks of the wire protocol: parsing a read buffer full of PUBs (whole, and
// cut into socket-sized reads), routed RMSGs, and writing MSGs into an outbound buffer.
//
//   build/.../pylon_micro_bench --benchmark_filter='Parse|Write'
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proto/parser.h"
#include "proto/writer.h"

namespace {

using pylon::proto::MsgArgs;
using pylon::proto::Parser;
using pylon::proto::ParserHandler;
using pylon::proto::Role;

// Counts messages and touches the payload the way a server would (its size).
class CountingHandler : public ParserHandler {
 public:
  int64_t msgs = 0;
  int64_t bytes = 0;
  bool on_pub(const MsgArgs& a, std::string_view payload) override {
    ++msgs;
    bytes += static_cast<int64_t>(payload.size()) + static_cast<int64_t>(a.subject.size());
    return true;
  }
  bool on_rmsg(const MsgArgs& a, std::string_view payload) override {
    ++msgs;
    bytes += static_cast<int64_t>(payload.size()) + static_cast<int64_t>(a.queues.size());
    return true;
  }
};

std::string pubs(size_t count, size_t payload_size) {
  std::string buf;
  const std::string payload(payload_size, 'x');
  for (size_t i = 0; i < count; ++i) {
    pylon::proto::append_pub(buf, "foo.bar.baz", i % 4 == 0 ? "_INBOX.abcdef.1" : "", payload);
  }
  return buf;
}

// One read buffer holding many PUBs, parsed in one call (the zero-copy path).
void BM_ParsePubsWhole(benchmark::State& state) {
  const std::string buf = pubs(1000, static_cast<size_t>(state.range(0)));
  Parser parser(Role::kServerOfClient);
  CountingHandler h;
  for (auto _ : state) {
    auto r = parser.parse(buf, h);
    benchmark::DoNotOptimize(r.consumed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(buf.size()));
  state.SetItemsProcessed(h.msgs);
}
BENCHMARK(BM_ParsePubsWhole)->Arg(0)->Arg(16)->Arg(128)->Arg(1024)->Arg(32 * 1024);

// The same bytes arriving in reads of state.range(1) bytes, so ops are split across reads.
void BM_ParsePubsChunked(benchmark::State& state) {
  const std::string buf = pubs(1000, static_cast<size_t>(state.range(0)));
  const size_t chunk = static_cast<size_t>(state.range(1));
  Parser parser(Role::kServerOfClient);
  CountingHandler h;
  for (auto _ : state) {
    for (size_t at = 0; at < buf.size(); at += chunk) {
      auto r = parser.parse(std::string_view(buf).substr(at, chunk), h);
      benchmark::DoNotOptimize(r.consumed);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(buf.size()));
  state.SetItemsProcessed(h.msgs);
}
BENCHMARK(BM_ParsePubsChunked)->Args({16, 4096})->Args({128, 4096})->Args({1024, 4096})->Args({128, 65536})->Args({32 * 1024, 65536});

// Routed messages naming queue groups, as a route reads them.
void BM_ParseRmsgWithQueues(benchmark::State& state) {
  std::string buf;
  const std::string payload(static_cast<size_t>(state.range(0)), 'r');
  const std::string_view queues[] = {"workers", "audit"};
  for (int i = 0; i < 1000; ++i) {
    pylon::proto::append_rmsg(buf, "$G", "orders.eu.new", i % 2 ? "_INBOX.r" : "", queues, payload);
  }
  Parser parser(Role::kServerOfRoute);
  CountingHandler h;
  for (auto _ : state) {
    auto r = parser.parse(buf, h);
    benchmark::DoNotOptimize(r.consumed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(buf.size()));
  state.SetItemsProcessed(h.msgs);
}
BENCHMARK(BM_ParseRmsgWithQueues)->Arg(16)->Arg(1024);

// Appending MSG deliveries to an outbound buffer that is flushed (cleared) per batch.
void BM_WriteMsgs(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'm');
  std::string out;
  int64_t msgs = 0;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 1000; ++i) pylon::proto::append_msg(out, "foo.bar.baz", "17", "_INBOX.x", payload);
    msgs += 1000;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(msgs);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_WriteMsgs)->Arg(16)->Arg(1024);

}  // namespace
