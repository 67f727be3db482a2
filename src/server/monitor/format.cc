#include "server/monitor/format.h"

#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace pylon::server::monitor {

namespace json = boost::json;

std::string rfc3339(SysTime t) {
  using namespace std::chrono;
  auto ns_total = duration_cast<nanoseconds>(t.time_since_epoch()).count();
  int64_t secs = ns_total / 1'000'000'000;
  int64_t frac = ns_total % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac != 0) {
    std::string f = fmt::format("{:09}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += '.';
    out += f;
  }
  out += 'Z';
  return out;
}

std::string uptime(std::chrono::nanoseconds d) {
  int64_t tsecs = d.count() / 1'000'000'000;
  if (tsecs < 0) tsecs = 0;
  int64_t tmins = tsecs / 60, thrs = tmins / 60, tdays = thrs / 24, tyrs = tdays / 365;
  if (tyrs > 0) return fmt::format("{}y{}d{}h{}m{}s", tyrs, tdays % 365, thrs % 24, tmins % 60, tsecs % 60);
  if (tdays > 0) return fmt::format("{}d{}h{}m{}s", tdays, thrs % 24, tmins % 60, tsecs % 60);
  if (thrs > 0) return fmt::format("{}h{}m{}s", thrs, tmins % 60, tsecs % 60);
  if (tmins > 0) return fmt::format("{}m{}s", tmins, tsecs % 60);
  return fmt::format("{}s", tsecs);
}

std::string format_double(double d) {
  if (!std::isfinite(d)) return "0";  // JSON has no NaN/Inf; Go would refuse to marshal
  if (d == std::floor(d) && std::fabs(d) < 1e15) return fmt::format("{}", static_cast<int64_t>(d));
  return fmt::format("{}", d);
}

namespace {
// level < 0: compact (json.Marshal), no line breaks or spaces.
void indent(std::string& out, int level) {
  if (level < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(level) * 2, ' ');
}

int deeper(int level) { return level < 0 ? level : level + 1; }

void write(std::string& out, const json::value& v, int level) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ',';
        first = false;
        indent(out, deeper(level));
        out += json::serialize(json::string_view(kv.key()));
        out += level < 0 ? ":" : ": ";
        write(out, kv.value(), deeper(level));
      }
      indent(out, level);
      out += '}';
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& e : a) {
        if (!first) out += ',';
        first = false;
        indent(out, deeper(level));
        write(out, e, deeper(level));
      }
      indent(out, level);
      out += ']';
      return;
    }
    case json::kind::double_:
      out += format_double(v.get_double());
      return;
    default:
      out += json::serialize(v);  // strings (escaped), integers, bools, null
      return;
  }
}
}  // namespace

std::string pretty(const json::value& v) {
  std::string out;
  write(out, v, 0);
  return out;
}

std::string compact(const json::value& v) {
  std::string out;
  write(out, v, -1);
  return out;
}

}  // namespace pylon::server::monitor
