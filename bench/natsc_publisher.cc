// The official C client's publisher, for scripts/bench.sh's client rows (issue 14 §6): the
// same loop as nats.c's examples/publisher.c (natsConnection_Publish in a loop, then a
// flush), timed as `pylon bench --pub 1` times its publisher: from the first publish to
// the return of the flush after the last one (the server has processed every message).
// Prints one JSON object in the shape of `pylon bench --json`'s, so the script reads both
// the same way.
//
//   natsc_publisher --server nats://127.0.0.1:4222 --msgs 1000000 --size 16 [--subject s]
#include <nats/nats.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

int usage() {
  std::fprintf(stderr, "usage: natsc_publisher --server URL --msgs N --size BYTES [--subject S]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = "nats://127.0.0.1:4222", subject = "bench.subject";
  long long msgs = 100000;
  long size = 16;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (i + 1 >= argc) return usage();
    if (!std::strcmp(a, "--server")) {
      url = argv[++i];
    } else if (!std::strcmp(a, "--msgs")) {
      msgs = std::atoll(argv[++i]);
    } else if (!std::strcmp(a, "--size")) {
      size = std::atol(argv[++i]);
    } else if (!std::strcmp(a, "--subject")) {
      subject = argv[++i];
    } else {
      return usage();
    }
  }
  if (msgs < 1 || size < 0) return usage();

  natsOptions* opts = nullptr;
  natsConnection* conn = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, url.c_str());
  if (s == NATS_OK) s = natsConnection_Connect(&conn, opts);
  if (s != NATS_OK) {
    std::fprintf(stderr, "natsc_publisher: cannot connect to %s: %s\n", url.c_str(), natsStatus_GetText(s));
    return 1;
  }
  std::vector<char> payload(static_cast<size_t>(size), 'x');
  const int len = static_cast<int>(size);

  const auto t0 = std::chrono::steady_clock::now();
  long long sent = 0;
  for (; sent < msgs && s == NATS_OK; ++sent) s = natsConnection_Publish(conn, subject.c_str(), payload.data(), len);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(conn, 60000);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool complete = s == NATS_OK;
  if (!complete) std::fprintf(stderr, "natsc_publisher: %s after %lld messages\n", natsStatus_GetText(s), sent);

  std::printf(
      "{\"overall\":{\"msgs\":%lld,\"secs\":%.6f,\"msgs_per_sec\":%.1f},\"complete\":%s,\"client_cpu_ms\":%.1f,"
      "\"client\":\"nats.c %s\"}\n",
      sent, secs, secs > 0 ? static_cast<double>(sent) / secs : 0.0, complete ? "true" : "false", cpu_ms(),
      nats_GetVersion());
  natsConnection_Destroy(conn);
  natsOptions_Destroy(opts);
  nats_Close();
  return complete ? 0 : 1;
}
