// /dashboard: the live cluster dashboard, a single page served by the server itself (no internet
// needed). The page (web/dashboard) is bundled with esbuild at build time and embedded in the
// binary as a generated source (build/web-dashboard/dashboard_assets.cc, written by
// web/dashboard/embed.cmake); this file maps request paths to those assets.
//
// The page polls /varz, /routez and /connz of every node it knows (the serving one, the
// monitor_url each Pylon route advertises, and ?servers=) and computes rates from counter deltas;
// docs/monitoring.md ("Dashboard") describes it.
#pragma once

#include <cstddef>
#include <string_view>

namespace pylon::server::monitor {

// One embedded file of the dashboard, e.g. {"/dashboard/dashboard.js", "text/javascript; ...", ...}.
struct DashboardAsset {
  std::string_view path;
  std::string_view content_type;
  std::string_view body;
};

// True for "/dashboard" and everything under "/dashboard/".
bool is_dashboard_path(std::string_view path) noexcept;

// The asset for `path` ("/dashboard" and "/dashboard/" give the page itself); nullptr when none.
const DashboardAsset* find_dashboard_asset(std::string_view path) noexcept;

namespace detail {
// Defined in the generated dashboard_assets.cc.
extern const DashboardAsset kDashboardAssets[];
extern const size_t kDashboardAssetCount;
}  // namespace detail

}  // namespace pylon::server::monitor
