#include "server/monitor/dashboard.h"

namespace pylon::server::monitor {

namespace {
constexpr std::string_view kRoot = "/dashboard";
constexpr std::string_view kPage = "/dashboard/index.html";
}  // namespace

bool is_dashboard_path(std::string_view path) noexcept {
  return path == kRoot || path.starts_with("/dashboard/");
}

const DashboardAsset* find_dashboard_asset(std::string_view path) noexcept {
  if (path == kRoot || path == "/dashboard/") path = kPage;
  // A handful of files: a linear scan is all it takes.
  for (size_t i = 0; i < detail::kDashboardAssetCount; ++i) {
    if (detail::kDashboardAssets[i].path == path) return &detail::kDashboardAssets[i];
  }
  return nullptr;
}

}  // namespace pylon::server::monitor
