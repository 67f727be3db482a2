#include "server/client/permissions.h"

#include "proto/subject.h"

namespace pylon::server {

bool pattern_covers(std::string_view outer, std::string_view inner) noexcept {
  proto::Tokens o(outer), i(inner);
  std::string_view ot, it;
  for (;;) {
    bool has_o = o.next(ot);
    bool has_i = i.next(it);
    if (!has_o) return !has_i;
    if (ot == ">") return has_i;  // '>' covers one or more remaining tokens, wildcards included
    if (!has_i) return false;
    if (it == ">") return false;  // only '>' covers '>'
    if (ot == "*") continue;      // '*' covers any single token, '*' included
    if (ot != it) return false;
  }
}

namespace {
bool allowed(const SubjectPermission& p, std::string_view subject) {
  if (!p.allow.empty()) {
    bool ok = false;
    for (const auto& a : p.allow) {
      if (pattern_covers(a, subject)) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  for (const auto& d : p.deny) {
    if (pattern_covers(d, subject)) return false;
  }
  return true;
}
}  // namespace

bool can_publish(const Permissions& p, std::string_view subject) noexcept {
  // allow_responses without a publish allow list: the reference sets an empty allow list,
  // which allows nothing; replies are then let through by the client's response tracking.
  if (p.has_response && p.publish.allow.empty()) return false;
  return allowed(p.publish, subject);
}

bool can_subscribe(const Permissions& p, std::string_view subject) noexcept { return allowed(p.subscribe, subject); }

bool subscribe_denied(const Permissions& p, std::string_view subject) noexcept {
  for (const auto& d : p.subscribe.deny) {
    if (proto::subject_matches(d, subject)) return true;
  }
  return false;
}

}  // namespace pylon::server
