#include "server/leafnode/credentials.h"

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace pylon::server {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A "-----BEGIN NATS USER JWT-----" style line: three dashes or more at both ends.
bool is_fence(std::string_view line) {
  line = trim(line);
  auto dashes = [](std::string_view s, bool front) {
    size_t n = 0;
    while (n < s.size() && s[front ? n : s.size() - 1 - n] == '-') ++n;
    return n;
  };
  return line.size() >= 6 && dashes(line, true) >= 3 && dashes(line, false) >= 3;
}

}  // namespace

LeafCredentials parse_leaf_credentials(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  // As credsRe's FindAllSubmatch: fence, one non-empty line, fence; matches do not overlap.
  std::vector<std::string_view> items;
  for (size_t i = 0; i + 2 < lines.size(); ++i) {
    if (is_fence(lines[i]) && !trim(lines[i + 1]).empty() && !is_fence(lines[i + 1]) && is_fence(lines[i + 2])) {
      items.push_back(trim(lines[i + 1]));
      i += 2;
    }
  }
  if (items.size() < 2) throw std::runtime_error("Credentials file malformed");
  auto key = nkeys::KeyPair::from_seed(items[1]);
  if (!key) throw std::runtime_error("Credentials file has malformed seed");
  return LeafCredentials{std::string(items[0]), std::move(*key)};
}

LeafCredentials read_leaf_credentials(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::string why = std::strerror(errno);
    if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    throw std::runtime_error(fmt::format("open {}: {}", path, why));
  }
  std::string s;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  std::fclose(f);
  // The seed's text is wiped whatever happens, as the reference's wipeSlice.
  struct Wipe {
    std::string& s;
    ~Wipe() { std::fill(s.begin(), s.end(), '\0'); }
  } wipe{s};
  return parse_leaf_credentials(s);
}

}  // namespace pylon::server
