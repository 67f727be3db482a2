// A NATS message as the client sees it, and its headers.
//
// Headers travel as "NATS/1.0[ <status>[ <description>]]\r\n<Key>: <Value>\r\n...\r\n"
// before the body (HPUB/HMSG). Keys keep their case and order; one key may repeat.
// The status line's code (e.g. 503 "no responders") is split out into Message::status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pylon {

class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  // Adds a value (keeps existing values of the same key).
  Headers& add(std::string key, std::string value);
  // Replaces every value of `key` with this one.
  Headers& set(std::string key, std::string value);
  // The first value of `key` (exact, case-sensitive match), if any.
  std::optional<std::string_view> get(std::string_view key) const;
  // Every value of `key`, in order.
  std::vector<std::string_view> values(std::string_view key) const;
  // Removes every value of `key`; returns how many were removed.
  size_t erase(std::string_view key);

  bool empty() const noexcept { return fields_.empty(); }
  size_t size() const noexcept { return fields_.size(); }
  auto begin() const noexcept { return fields_.begin(); }
  auto end() const noexcept { return fields_.end(); }
  bool operator==(const Headers&) const = default;

 private:
  std::vector<Field> fields_;
};

struct Message {
  std::string subject;
  std::string reply;    // empty: no reply subject
  std::string data;     // the body (headers not included)
  Headers headers;
  // Status from the header line ("NATS/1.0 503" -> 503); 0 when there is none.
  int status = 0;
  std::string status_description;
  // The subscription's id on the connection that received the message (0 for messages
  // not received, e.g. one built to be published).
  uint64_t sid = 0;

  bool has_headers() const noexcept { return !headers.empty() || status != 0; }
};

}  // namespace pylon
