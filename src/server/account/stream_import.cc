#include "server/account/stream_import.h"

#include <vector>

#include "proto/subject.h"

namespace pylon::server {

std::string map_subject(const SubjectMapping& m, std::string_view published) {
  if (!m.prefix.empty()) return m.prefix + std::string(published);
  if (m.to == m.source) return std::string(published);
  if (proto::is_literal(m.to)) return m.to;
  // A wildcard source mapped to another pattern: the published tokens the source's wildcards
  // stand for fill the wildcards of `to`, in order ('>' takes the rest).
  std::vector<std::string_view> fill;
  proto::Tokens src(m.source), pub(published);
  std::string_view s, p;
  while (src.next(s) && pub.next(p)) {
    if (s == "*") {
      fill.push_back(p);
    } else if (s == ">") {
      size_t start = static_cast<size_t>(p.data() - published.data());
      fill.push_back(published.substr(start));
      break;
    }
  }
  std::string out;
  size_t i = 0;
  proto::Tokens to(m.to);
  std::string_view t;
  while (to.next(t)) {
    if (!out.empty()) out += '.';
    if ((t == "*" || t == ">") && i < fill.size()) {
      out += fill[i++];
    } else {
      out += t;
    }
  }
  return out;
}

}  // namespace pylon::server
