// Formatting shared by the monitoring endpoints: the reference server's JSON conventions
// (Go's encoding/json and time package), so tools written for nats-server read ours unchanged.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <string>

namespace pylon::server::monitor {

using SysTime = std::chrono::system_clock::time_point;

// A time as Go marshals time.Time in UTC: RFC 3339 with nanoseconds, trailing zeros of the
// fraction dropped ("2024-01-02T03:04:05.1234Z", or no fraction at all when it is zero).
std::string rfc3339(SysTime t);

// The reference's uptime/idle format (whole seconds, with days and years):
// "0s", "59s", "1m2s", "3h0m5s", "2d1h0m0s", "1y3d0h0m0s".
std::string uptime(std::chrono::nanoseconds d);

// Serializes like Go's json.MarshalIndent(v, "", "  "): two-space indent, "key": value,
// "[]" / "{}" for empty containers, integral numbers without exponent, doubles in the
// shortest form that reads back ("0.75", "2", "1e-07").
std::string pretty(const boost::json::value& v);
// The same values as Go's json.Marshal writes them: no whitespace (NATS payloads, $SYS).
std::string compact(const boost::json::value& v);

// A double as Go writes a float64 (integral values with no fraction: 2.0 -> "2").
std::string format_double(double d);

}  // namespace pylon::server::monitor
