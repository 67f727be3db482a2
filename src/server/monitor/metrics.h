// /metrics: the server's counters and gauges in the Prometheus text exposition format 0.0.4,
// so a Prometheus server (or anything that scrapes it) reads them without an exporter.
// docs/monitoring.md lists every family, its type, labels and meaning.
//
// Names follow Prometheus' conventions: a `pylon_` prefix, base units in the name (`_bytes`,
// `_seconds`), counters end in `_total`, identity in an info metric (`pylon_server_info`), and
// the process_* families named as Prometheus' own process collector names them. The numbers
// come from the same places as /varz and /routez (gather_counters, Cluster::routes): a scrape
// reads atomics and takes short registry locks, never a lock on a message's path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "server/monitor/format.h"

namespace pylon::server {
class Server;
}

namespace pylon::server::monitor {

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Writes families in the text format: a family's `# HELP` and `# TYPE` lines, then its samples
// (each named as the family: Pylon exposes counters and gauges only).
class Exposition {
 public:
  enum class Type { kCounter, kGauge };
  using Label = std::pair<std::string_view, std::string_view>;

  // Begins a family. `name` must be a valid metric name; `help` is escaped.
  void family(std::string_view name, Type type, std::string_view help);
  // A sample of the current family; label values are escaped.
  void sample(std::initializer_list<Label> labels, uint64_t value);
  void sample(std::initializer_list<Label> labels, double value);
  void sample(uint64_t value) { sample({}, value); }
  void sample(double value) { sample({}, value); }

  const std::string& text() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  void start_sample(std::initializer_list<Label> labels);

  std::string out_;
  std::string family_;
};

// The text format's escapes: a label value escapes `\`, `"` and newline; HELP text escapes
// `\` and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);

// The whole exposition. `http_req_stats`: requests per monitoring path (as /varz's).
std::string build_metrics(Server& server, SysTime now, const std::map<std::string, uint64_t>& http_req_stats);

}  // namespace pylon::server::monitor
