// The monitoring query parser (src/server/monitor/query.*) against Go: the reference decodes
// ?limit=, ?offset=, ?cid= with strconv.Atoi and ParseUint, and ?subs=, ?auth= with
// strconv.ParseBool. Each decoder here is checked against a plain reimplementation of the Go
// function's rules, including which error wins (a range error as soon as the value overflows,
// a syntax error at the first bad byte before that).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "server/monitor/query.h"

namespace {

enum class Go { kOk, kSyntax, kRange };

// strconv.ParseUint(s, 10, 64).
Go go_parse_uint(std::string_view s, uint64_t& n) {
  if (s.empty()) return Go::kSyntax;
  n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Go::kSyntax;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return Go::kRange;
    n = n * 10 + d;
  }
  return Go::kOk;
}

// strconv.Atoi (ParseInt(s, 10, 0) on 64 bits).
Go go_atoi(std::string_view s, int64_t& v) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t u = 0;
  const Go r = go_parse_uint(s, u);
  if (r != Go::kOk) return r;
  const uint64_t cutoff = uint64_t{1} << 63;
  if (!neg && u >= cutoff) return Go::kRange;
  if (neg && u > cutoff) return Go::kRange;
  v = neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
  return Go::kOk;
}

[[noreturn]] void fail(const char* what, const std::string& value, const std::string& err) {
  std::fprintf(stderr, "%s: value \"%s\", error \"%s\"\n", what, value.c_str(), err.c_str());
  std::abort();
}

// Which error a text reports: its end says (the value quoted before it may hold anything).
Go kind_of(const std::string& err) {
  auto ends = [&](std::string_view tail) {
    return err.size() >= tail.size() && err.compare(err.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (ends(": invalid syntax")) return Go::kSyntax;
  if (ends(": value out of range")) return Go::kRange;
  return Go::kOk;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using pylon::server::monitor::Query;
  const std::string target(reinterpret_cast<const char*>(data), size);
  const Query q(target);
  pylon::server::monitor::url_decode(target);
  for (const char* key : {"limit", "offset", "cid", "subs", "auth", "sort", "state"}) {
    const std::string v = q.get(key);
    if (!v.empty() && !q.has(key)) fail("get() without has()", v, "");

    std::string err;
    const auto i = q.get_int(key, &err);
    if (v.empty()) {
      if (!i || *i != 0) fail("an absent int is not 0", v, err);
    } else {
      int64_t want = 0;
      const Go g = go_atoi(v, want);
      if (g == Go::kOk ? (!i || *i != want) : (i || kind_of(err) != g)) fail("get_int differs from strconv.Atoi", v, err);
    }

    err.clear();
    const auto u = q.get_uint(key, &err);
    if (!v.empty()) {
      uint64_t want = 0;
      const Go g = go_parse_uint(v, want);
      if (g == Go::kOk ? (!u || *u != want) : (u || kind_of(err) != g)) {
        fail("get_uint differs from strconv.ParseUint", v, err);
      }
    }

    err.clear();
    const auto b = q.get_bool(key, &err);
    if (!b && err.empty()) fail("get_bool failed without a text", v, err);
  }
  return 0;
}
