// The query string of a monitoring request, decoded as Go's net/url does, and the reference's
// parameter decoders with their error texts (a bad value is a 400 with that text).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pylon::server::monitor {

class Query {
 public:
  Query() = default;
  // `target` is the request target ("/connz?limit=2&sort=cid"); splits off the path.
  explicit Query(std::string_view target);

  const std::string& path() const noexcept { return path_; }
  // The first value of `key`, or "" (like url.Values.Get).
  std::string get(std::string_view key) const;
  bool has(std::string_view key) const;

  // The reference's decoders. On a bad value they return nullopt and set *err to the text the
  // reference answers with (e.g. "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax").
  std::optional<bool> get_bool(std::string_view key, std::string* err) const;
  std::optional<int64_t> get_int(std::string_view key, std::string* err) const;
  std::optional<uint64_t> get_uint(std::string_view key, std::string* err) const;

 private:
  std::string path_;
  std::vector<std::pair<std::string, std::string>> params_;
};

// Percent-decoding with '+' as space (application/x-www-form-urlencoded, as Go's ParseQuery).
std::string url_decode(std::string_view s);

}  // namespace pylon::server::monitor
