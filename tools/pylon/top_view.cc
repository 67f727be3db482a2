#include "top_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <numeric>

namespace pylon::tools::top {

namespace {

std::string fmt(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// "2024-05-01T10:02:03.104Z" -> "12:02:03" in local time (the date only when not today).
std::string local_time(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) return rfc3339;
  std::time_t secs = static_cast<std::time_t>(std::floor(*t));
  std::time_t now = std::time(nullptr);
  std::tm tm{}, today{};
  localtime_r(&secs, &tm);
  localtime_r(&now, &today);
  char buf[64];
  bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
  std::strftime(buf, sizeof buf, same_day ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string host_port(const ConnInfo& c) {
  // An IPv6 address needs brackets to be told from its port.
  return c.ip.find(':') != std::string::npos ? "[" + c.ip + "]:" + std::to_string(c.port)
                                             : c.ip + ":" + std::to_string(c.port);
}

std::string truncate(std::string s, size_t n) {
  if (s.size() > n) s = n > 3 ? s.substr(0, n - 3) + "..." : s.substr(0, n);
  return s;
}

struct Column {
  std::string title;
  // Left out first when space runs short: lower goes first; kKeep never goes.
  int drop_order;
  bool numeric;      // right-aligned
  size_t max_width;  // longer values are cut with "..."
  std::function<std::string(const ConnInfo&)> value;
};
constexpr int kKeep = 1000;

std::vector<Column> columns(const Snapshot& s, const ViewOptions& o) {
  const bool raw = o.raw_bytes;
  std::vector<Column> cols;
  cols.push_back({"CID", kKeep, true, 20, [](const ConnInfo& c) { return std::to_string(c.cid); }});
  bool any_name = std::any_of(s.conns.begin(), s.conns.end(), [](const ConnInfo& c) { return !c.name.empty(); });
  if (any_name) cols.push_back({"NAME", 95, false, 24, [](const ConnInfo& c) { return c.name; }});
  // Shown when some connection is in an account of its own (the global $G is not named).
  bool any_account =
      std::any_of(s.conns.begin(), s.conns.end(), [](const ConnInfo& c) { return !c.account.empty(); });
  if (any_account) cols.push_back({"ACCOUNT", 92, false, 24, [](const ConnInfo& c) { return c.account; }});
  cols.push_back({"HOST", 60, false, 47, [](const ConnInfo& c) { return host_port(c); }});
  cols.push_back({"SUBS", 70, true, 12, [](const ConnInfo& c) { return std::to_string(c.subs); }});
  cols.push_back({"PENDING", 40, true, 12, [raw](const ConnInfo& c) { return psize(raw, c.pending); }});
  cols.push_back({"MSGS_TO", 50, true, 20, [raw](const ConnInfo& c) { return psize(raw, c.totals.msgs_to); }});
  cols.push_back({"MSGS_TO/s", kKeep, true, 20,
                  [raw](const ConnInfo& c) { return prate(raw, c.rates.known, c.rates.msgs_to); }});
  cols.push_back({"MSGS_FROM", 55, true, 20, [raw](const ConnInfo& c) { return psize(raw, c.totals.msgs_from); }});
  cols.push_back({"MSGS_FROM/s", kKeep, true, 20,
                  [raw](const ConnInfo& c) { return prate(raw, c.rates.known, c.rates.msgs_from); }});
  cols.push_back({"BYTES_TO", 30, true, 20, [raw](const ConnInfo& c) { return psize(raw, c.totals.bytes_to); }});
  cols.push_back({"BYTES_TO/s", 45, true, 20,
                  [raw](const ConnInfo& c) { return prate(raw, c.rates.known, c.rates.bytes_to); }});
  cols.push_back({"BYTES_FROM", 35, true, 20, [raw](const ConnInfo& c) { return psize(raw, c.totals.bytes_from); }});
  cols.push_back({"BYTES_FROM/s", 46, true, 20,
                  [raw](const ConnInfo& c) { return prate(raw, c.rates.known, c.rates.bytes_from); }});
  cols.push_back({"LANG", 20, false, 12, [](const ConnInfo& c) { return c.lang; }});
  cols.push_back({"VERSION", 15, false, 12, [](const ConnInfo& c) { return c.version; }});
  cols.push_back({"UPTIME", 25, false, 16, [](const ConnInfo& c) { return c.uptime; }});
  cols.push_back({"IDLE", 12, false, 16, [](const ConnInfo& c) { return c.idle; }});
  cols.push_back({"LAST_ACTIVITY", 10, false, 19, [](const ConnInfo& c) { return local_time(c.last_activity); }});
  if (s.query.subs) {
    cols.push_back({"SUBSCRIPTIONS", 90, false, o.width > 0 ? 4096 : 1u << 20, [](const ConnInfo& c) {
                      std::string out;
                      for (const auto& subj : c.subjects) out += (out.empty() ? "" : ", ") + subj;
                      return out;
                    }});
  }
  return cols;
}

std::string uptime_or_dash(const std::string& s) { return s.empty() ? "-" : s; }

void add_header(std::vector<Line>& out, const Snapshot& s, const ViewOptions& o) {
  const ServerInfo& v = s.server;
  const bool raw = o.raw_bytes;
  std::string title = std::string(v.is_pylon ? "Pylon" : "NATS") + " server";
  if (!v.server_name.empty() && v.server_name != v.server_id) title += " " + v.server_name;
  title += " version " + v.version;
  if (v.is_pylon && !v.pylon_version.empty()) title += " (pylon " + v.pylon_version + ")";
  title += " (uptime: " + uptime_or_dash(v.uptime) + ")";
  out.push_back({title, Style::kTitle});
  // The long server id last: a narrow window cuts it rather than the address.
  out.push_back({"  Clients: " + v.host + ":" + std::to_string(v.port) + "  ID: " + v.server_id, Style::kNormal});
  out.push_back({"Server:"});
  out.push_back({fmt("  Load: CPU: %5.1f%%  Memory: %s  Cores: %lld  Slow Consumers: %lld", v.cpu,
                     psize(false, v.mem).c_str(), static_cast<long long>(v.cores),
                     static_cast<long long>(v.slow_consumers))});
  out.push_back({fmt("  Connections: %lld (accepted %lld)  Routes: %lld  Subscriptions: %lld",
                     static_cast<long long>(v.connections), static_cast<long long>(v.total_connections),
                     static_cast<long long>(v.routes), static_cast<long long>(v.subscriptions))});
  if (!s.query.account.empty()) {
    out.push_back({fmt("  Account: %s (%lld open connections)", s.query.account.c_str(),
                       static_cast<long long>(s.conns_total))});
  }
  auto traffic = [&](const char* label, int64_t msgs, int64_t bytes, double msgs_rate, double bytes_rate) {
    std::string mr = v.rates.known ? fmt("%.1f", msgs_rate) : "-";
    return fmt("  %-5s Msgs: %s  Bytes: %s  Msgs/Sec: %s  Bytes/Sec: %s", label, psize(raw, msgs).c_str(),
               psize(raw, bytes).c_str(), mr.c_str(), prate(raw, v.rates.known, bytes_rate).c_str());
  };
  out.push_back({traffic("In:", v.totals.msgs_from, v.totals.bytes_from, v.rates.msgs_from, v.rates.bytes_from)});
  out.push_back({traffic("Out:", v.totals.msgs_to, v.totals.bytes_to, v.rates.msgs_to, v.rates.bytes_to)});
}

// Lines longer than the screen are cut, except an error, which is wrapped: all of it matters.
std::vector<Line> fit(std::vector<Line> lines, int width) {
  if (width <= 0) return lines;
  const size_t w = static_cast<size_t>(width);
  std::vector<Line> out;
  for (auto& l : lines) {
    if (l.text.size() <= w) {
      out.push_back(std::move(l));
    } else if (l.style == Style::kError) {
      for (size_t at = 0; at < l.text.size(); at += w) out.push_back({l.text.substr(at, w), l.style});
    } else {
      out.push_back({truncate(std::move(l.text), w), l.style});
    }
  }
  return out;
}

}  // namespace

std::string psize(bool raw, int64_t v) {
  if (raw || (v < 1024 && v > -1024)) return std::to_string(v);
  static const char* units[] = {"K", "M", "G", "T", "P", "E"};
  double d = static_cast<double>(v) / 1024;
  int u = 0;
  while (std::fabs(d) >= 1024 && u < 5) {
    d /= 1024;
    ++u;
  }
  return fmt("%.1f%s", d, units[u]);
}

std::string prate(bool raw, bool known, double v) {
  if (!known) return "-";
  if (raw || v < 1024) return fmt("%.1f", v);
  return psize(false, static_cast<int64_t>(std::llround(v)));
}

std::vector<Line> render(const Snapshot& s, const ViewOptions& o) {
  std::vector<Line> out;
  add_header(out, s, o);
  out.push_back({o.error.empty() ? "" : o.error, o.error.empty() ? Style::kNormal : Style::kError});

  const SortKey* key = find_sort_key(s.query.sort);
  std::string order = key ? std::string(key->description) : s.query.sort;
  if (key && !key->server_param.empty()) order += " (sorted by the server)";
  else order += ", highest first";
  // The sort's description last: on a narrow screen it is what gets cut.
  std::string summary = fmt("Connections Polled: %zu of %lld  Limit: %d  Refresh: %gs  Sort: %s = %s", s.conns.size(),
                            static_cast<long long>(s.conns_total), s.query.limit, o.delay_s, s.query.sort.c_str(),
                            order.c_str());
  if (s.polls < 2) summary += "  (rates after the next refresh)";
  out.push_back({summary});

  // Lay out the table: every value of every column, then drop columns until it fits.
  std::vector<Column> cols = columns(s, o);
  std::vector<std::vector<std::string>> cells(cols.size());
  std::vector<size_t> width(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    width[i] = cols[i].title.size();
    for (const auto& c : s.conns) {
      cells[i].push_back(truncate(cols[i].value(c), cols[i].max_width));
      width[i] = std::max(width[i], cells[i].back().size());
    }
  }
  std::vector<bool> shown(cols.size(), true);
  const size_t sep = 2, indent = 2;
  auto total = [&] {
    size_t t = indent;
    for (size_t i = 0; i < cols.size(); ++i)
      if (shown[i]) t += width[i] + sep;
    return t;
  };
  if (o.width > 0) {
    // The subscriptions column, shown on request, takes what is left (at least 24).
    auto need = [&] {
      size_t t = total();
      if (s.query.subs && shown.back()) t = t - width.back() + std::min<size_t>(width.back(), 24);
      return t;
    };
    while (need() > static_cast<size_t>(o.width)) {
      int victim = -1;
      for (size_t i = 0; i < cols.size(); ++i)
        if (shown[i] && cols[i].drop_order != kKeep && (victim < 0 || cols[i].drop_order < cols[victim].drop_order))
          victim = static_cast<int>(i);
      if (victim < 0) break;
      shown[victim] = false;
    }
  }
  auto row = [&](auto cell_of) {
    std::string line(indent, ' ');
    for (size_t i = 0; i < cols.size(); ++i) {
      if (!shown[i]) continue;
      std::string v = cell_of(i);
      bool last = i + 1 == cols.size();
      if (cols[i].numeric) line += std::string(width[i] - v.size(), ' ') + v;
      else line += last ? v : v + std::string(width[i] - v.size(), ' ');
      if (!last) line += std::string(sep, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (o.width > 0 && line.size() > static_cast<size_t>(o.width)) line = truncate(line, static_cast<size_t>(o.width));
    return line;
  };
  out.push_back({row([&](size_t i) { return cols[i].title; }), Style::kHeading});
  for (size_t r = 0; r < s.conns.size(); ++r) out.push_back({row([&](size_t i) { return cells[i][r]; })});
  return fit(std::move(out), o.width);
}

std::vector<Line> render_help(const Query& q, double delay_s) {
  // The commands first and the list of sort keys last: a short window cuts the list.
  std::vector<Line> out;
  out.push_back({"pylon top: commands (press any key to continue)", Style::kTitle});
  out.push_back({""});
  out.push_back({"  o<key>   Sort by <key>, then Enter (Esc cancels). Now: " + q.sort + "; keys below"});
  out.push_back({"  < >      Previous / next sort key"});
  out.push_back({"  n<limit> Number of connections to show, then Enter. Now: " + std::to_string(q.limit)});
  out.push_back({"  s        Show / hide each connection's subscriptions"});
  out.push_back({"  b        Raw numbers / K, M, G (powers of 1024)"});
  out.push_back({"  space    Refresh now (every " + fmt("%g", delay_s) + "s otherwise)"});
  out.push_back({"  ? h      This help"});
  out.push_back({"  q        Quit (Ctrl-C too)"});
  out.push_back({""});
  out.push_back({"  Rates are per second between two refreshes; \"-\" until a connection was seen twice."});
  out.push_back({"  MSGS_TO/BYTES_TO: sent by the server to the client; *_FROM: received from it."});
  out.push_back({""});
  out.push_back({"  Sort keys:"});
  for (const auto& k : sort_keys()) {
    out.push_back({fmt("    %-16s %s%s", std::string(k.name).c_str(), std::string(k.description).c_str(),
                       k.server_param.empty() ? " (between refreshes)" : "")});
  }
  return out;
}

}  // namespace pylon::tools::top
