// pylon::Headers and the header block's wire format.
#include <charconv>

#include "client/headers_codec.h"

namespace pylon {

Headers& Headers::add(std::string key, std::string value) {
  fields_.emplace_back(std::move(key), std::move(value));
  return *this;
}

Headers& Headers::set(std::string key, std::string value) {
  erase(key);
  return add(std::move(key), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::values(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : fields_) {
    if (k == key) out.emplace_back(v);
  }
  return out;
}

size_t Headers::erase(std::string_view key) {
  return std::erase_if(fields_, [key](const Field& f) { return f.first == key; });
}

}  // namespace pylon

namespace pylon::client {

namespace {
constexpr std::string_view kCrlf = "\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

size_t encoded_headers_size(const Headers& headers, int status, std::string_view description) {
  size_t n = kHeaderVersion.size() + 2 + 2;
  if (status != 0) n += 1 + std::to_string(status).size() + (description.empty() ? 0 : 1 + description.size());
  for (const auto& [k, v] : headers) n += k.size() + 2 + v.size() + 2;
  return n;
}

void encode_headers(std::string& out, const Headers& headers, int status, std::string_view description) {
  out.reserve(out.size() + encoded_headers_size(headers, status, description));
  out.append(kHeaderVersion);
  if (status != 0) {
    out += ' ';
    out += std::to_string(status);
    if (!description.empty()) {
      out += ' ';
      out.append(description);
    }
  }
  out.append(kCrlf);
  for (const auto& [k, v] : headers) {
    out.append(k);
    out.append(": ");
    out.append(v);
    out.append(kCrlf);
  }
  out.append(kCrlf);
}

bool decode_headers(std::string_view block, Message& msg) {
  size_t eol = block.find(kCrlf);
  if (eol == std::string_view::npos) return false;
  std::string_view first = block.substr(0, eol);
  if (first.substr(0, kHeaderVersion.size()) != kHeaderVersion) return false;
  std::string_view rest = trim(first.substr(kHeaderVersion.size()));
  if (!rest.empty()) {
    // "<status>[ <description>]"
    size_t sp = rest.find(' ');
    std::string_view code = rest.substr(0, sp);
    int status = 0;
    auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
    if (ec != std::errc() || p != code.data() + code.size()) return false;
    msg.status = status;
    if (sp != std::string_view::npos) msg.status_description = std::string(trim(rest.substr(sp + 1)));
  }
  block.remove_prefix(eol + 2);
  while (!block.empty()) {
    eol = block.find(kCrlf);
    std::string_view line = eol == std::string_view::npos ? block : block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    if (line.empty()) break;  // the blank line that ends the block
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    msg.headers.add(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

bool valid_header_key(std::string_view key) noexcept {
  if (key.empty()) return false;
  for (char c : key) {
    if (c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || static_cast<unsigned char>(c) < 32) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) noexcept {
  return value.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace pylon::client
