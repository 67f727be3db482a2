// `pylon top`'s screen as text: the server header and the connection table, laid out for
// a given width. Shared by the interactive view (ncurses draws these lines) and the
// one-shot `-o FILE` snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "top_stats.h"

namespace pylon::tools::top {

enum class Style { kNormal, kTitle, kHeading, kError };

struct Line {
  std::string text;
  Style style = Style::kNormal;
};

struct ViewOptions {
  int width = 0;            // columns available; 0: no limit (every column, full width)
  bool raw_bytes = false;   // 1234567 instead of 1.2M (nats-top's -b)
  double delay_s = 1;       // refresh interval, shown in the header
  std::string error;        // the last poll failed: shown above the table
};

// The whole view: header, status, table. Columns that do not fit `width` are left out,
// least useful first (last activity, version, ...); the rate columns stay.
std::vector<Line> render(const Snapshot& s, const ViewOptions& o);

// The help page for `?`/`h`.
std::vector<Line> render_help(const Query& q, double delay_s);

// nats-top's number style: 1023, 1.0K, 12.3M, ... (powers of 1024), or raw digits.
std::string psize(bool raw, int64_t v);
// A per-second rate: 12.5, 3.4K, 1.2M; "-" when unknown.
std::string prate(bool raw, bool known, double v);

}  // namespace pylon::tools::top
