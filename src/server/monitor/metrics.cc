#include "server/monitor/metrics.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "server/core/connection.h"
#include "server/route/cluster.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/process_stats.h"
#include "server/server.h"

namespace pylon::server::monitor {

namespace {
using Type = Exposition::Type;

double unix_seconds(SysTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }
double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

void Exposition::family(std::string_view name, Type type, std::string_view help) {
  family_ = std::string(name);
  fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name,
                 type == Type::kCounter ? "counter" : "gauge");
}

void Exposition::start_sample(std::initializer_list<Label> labels) {
  out_ += family_;
  if (labels.size() == 0) {
    out_ += ' ';
    return;
  }
  char sep = '{';
  for (const auto& [k, v] : labels) {
    out_ += sep;
    out_ += k;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
    sep = ',';
  }
  out_ += "} ";
}

void Exposition::sample(std::initializer_list<Label> labels, uint64_t value) {
  start_sample(labels);
  // Integers exactly, even past 2^53 where a double would round.
  fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void Exposition::sample(std::initializer_list<Label> labels, double value) {
  start_sample(labels);
  if (std::isnan(value)) {
    out_ += "NaN\n";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf\n" : "-Inf\n";
  } else {
    fmt::format_to(std::back_inserter(out_), "{}\n", value);  // shortest form that reads back
  }
}

std::string build_metrics(Server& server, SysTime now, const std::map<std::string, uint64_t>& http_req_stats) {
  Exposition e;
  Cluster& cluster = server.cluster();
  const ServerCounters c = gather_counters(server);
  const std::string cluster_name = cluster.enabled() ? cluster.cluster_name() : std::string();

  e.family("pylon_server_info", Type::kGauge,
           "Identity of this server: its server_id and server_name, the NATS server version it is compatible "
           "with, Pylon's own version and the cluster name. Always 1.");
  e.sample({{"server_id", server.id()},
            {"server_name", server.name()},
            {"version", kNatsCompatVersion},
            {"pylon_version", kPylonVersion},
            {"cluster", cluster_name}},
           uint64_t{1});
  e.family("pylon_server_start_time_seconds", Type::kGauge,
           "When the server started, in seconds since the Unix epoch.");
  e.sample(unix_seconds(server.start_time()));
  e.family("pylon_server_uptime_seconds", Type::kGauge, "Seconds since the server started.");
  e.sample(seconds(now - server.start_time()));

  e.family("pylon_client_connections", Type::kGauge, "Client connections open now.");
  e.sample(uint64_t{c.connections});
  e.family("pylon_max_client_connections", Type::kGauge,
           "The most client connections the server accepts at once (max_connections).");
  e.sample(static_cast<double>(server.options().max_connections));
  e.family("pylon_client_connections_accepted_total", Type::kCounter,
           "Client connections accepted since the server started.");
  e.sample(c.total_connections);
  e.family("pylon_connections_in_memory", Type::kGauge,
           "Client and route connections in memory, open or closed: a closed one is freed once nothing "
           "refers to it any more (match results being delivered from or cached); whole process.");
  e.sample(static_cast<double>(Connection::in_memory()));
  e.family("pylon_idle_buffers_released_total", Type::kCounter,
           "Outbound buffers over 4 KiB that connections gave back at their ping tick, with nothing queued: "
           "the memory a burst left, not kept by a connection that went quiet; whole process.");
  e.sample(Connection::idle_buffers_released());
  e.family("pylon_direct_writes_total", Type::kCounter,
           "Small batches a delivering event loop sent itself to an idle plaintext client of another loop, "
           "instead of waking that client's loop to send them; whole process.");
  e.sample(Connection::direct_writes());
  e.family("pylon_subscriptions", Type::kGauge,
           "Subscriptions in the subscription index: client subscriptions and the interest of routes.");
  e.sample(uint64_t{c.subscriptions});
  e.family("pylon_slow_consumers_total", Type::kCounter,
           "Connections cut off as slow consumers (pending bytes over max_pending, or a write past "
           "write_deadline).");
  e.sample(c.slow_consumers);
  e.family("pylon_log_peer_lines_suppressed_total", Type::kCounter,
           "Error lines about peers (bad protocol, failed authentication, violations) left out of the log "
           "by its rate limit of 100 a second.");
  e.sample(server.log().peer_lines_suppressed());
  e.family("pylon_in_messages_total", Type::kCounter, "Messages received from clients and routes.");
  e.sample(c.in_msgs);
  e.family("pylon_out_messages_total", Type::kCounter, "Messages sent to clients and routes.");
  e.sample(c.out_msgs);
  e.family("pylon_in_bytes_total", Type::kCounter, "Payload bytes received from clients and routes.");
  e.sample(c.in_bytes);
  e.family("pylon_out_bytes_total", Type::kCounter, "Payload bytes sent to clients and routes.");
  e.sample(c.out_bytes);

  // Routes: one series per peer, labelled with its server_id and server_name.
  const auto routes = cluster.routes(/*with_interest=*/false);
  e.family("pylon_routes", Type::kGauge, "Routes registered with other servers of the cluster.");
  e.sample(uint64_t{routes.size()});
  e.family("pylon_route_info", Type::kGauge,
           "A route and its peer: rid, the peer's server_id and server_name, its address, whether we dialled it "
           "and whether it is a configured route. Always 1.");
  for (const auto& r : routes) {
    std::string rid = std::to_string(r.rid), port = std::to_string(r.port);
    e.sample({{"rid", rid},
              {"remote_id", r.remote_id},
              {"remote_name", r.remote_name},
              {"ip", r.ip},
              {"port", port},
              {"did_solicit", r.did_solicit ? "true" : "false"},
              {"is_configured", r.is_configured ? "true" : "false"}},
             uint64_t{1});
  }
  // `value(route)` gives a uint64_t (written exactly) or a double.
  auto per_route = [&](std::string_view name, Type type, std::string_view help, auto value) {
    e.family(name, type, help);
    for (const auto& r : routes) e.sample({{"remote_id", r.remote_id}, {"remote_name", r.remote_name}}, value(r));
  };
  using R = const RouteSnapshot&;
  per_route("pylon_route_in_messages_total", Type::kCounter, "Messages received on the route.",
            [](R r) { return r.in_msgs; });
  per_route("pylon_route_out_messages_total", Type::kCounter, "Messages sent on the route.",
            [](R r) { return r.out_msgs; });
  per_route("pylon_route_in_bytes_total", Type::kCounter, "Payload bytes received on the route.",
            [](R r) { return r.in_bytes; });
  per_route("pylon_route_out_bytes_total", Type::kCounter, "Payload bytes sent on the route.",
            [](R r) { return r.out_bytes; });
  per_route("pylon_route_pending_bytes", Type::kGauge, "Bytes queued for the route and not yet written.",
            [](R r) { return uint64_t{r.pending_size}; });
  per_route("pylon_route_subscriptions", Type::kGauge, "Interest the peer registered on the route (RS+).",
            [](R r) { return uint64_t{r.num_subs}; });
  per_route("pylon_route_rtt_seconds", Type::kGauge,
            "Round-trip time of the last PING answered on the route; 0 until the first PONG.",
            [](R r) { return seconds(r.rtt); });
  per_route("pylon_route_start_time_seconds", Type::kGauge,
            "When the route connection was created, in seconds since the Unix epoch.",
            [](R r) { return unix_seconds(r.start); });
  per_route("pylon_route_last_activity_timestamp_seconds", Type::kGauge,
            "When the peer last sent messages or interest on the route (its start until then), in seconds "
            "since the Unix epoch.",
            [](R r) { return unix_seconds(r.last_activity); });

  e.family("pylon_http_requests_total", Type::kCounter, "Requests answered by the monitoring server, by path.");
  for (const auto& [path, n] : http_req_stats) e.sample({{"path", path}}, n);

  // The families of Prometheus' process collector, computed as it does from /proc.
  ProcessStats p = read_process_stats();
  e.family("process_cpu_seconds_total", Type::kCounter, "Total user and system CPU time spent in seconds.");
  e.sample(p.cpu_seconds);
  e.family("process_resident_memory_bytes", Type::kGauge, "Resident memory size in bytes.");
  e.sample(static_cast<double>(p.resident_bytes));
  e.family("process_virtual_memory_bytes", Type::kGauge, "Virtual memory size in bytes.");
  e.sample(static_cast<double>(p.virtual_bytes));
  e.family("process_start_time_seconds", Type::kGauge, "Start time of the process since unix epoch in seconds.");
  e.sample(p.start_time_seconds);
  e.family("process_open_fds", Type::kGauge, "Number of open file descriptors.");
  e.sample(static_cast<double>(p.open_fds));
  e.family("process_max_fds", Type::kGauge, "Maximum number of open file descriptors.");
  e.sample(static_cast<double>(p.max_fds));
  return e.take();
}

}  // namespace pylon::server::monitor
