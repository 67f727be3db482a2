// Durations as the reference server prints them (Go's time.Duration.String: "2s", "1m30s", "100ms").
#pragma once

#include <chrono>
#include <string>

namespace pylon::server {

std::string format_duration(std::chrono::nanoseconds d);

}  // namespace pylon::server
