#include "server/account/imports_check.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "proto/subject.h"
#include "server/client/permissions.h"

namespace pylon::server {

bool subjects_collide(std::string_view a, std::string_view b) noexcept {
  proto::Tokens ta(a), tb(b);
  std::string_view x, y;
  for (;;) {
    bool hx = ta.next(x), hy = tb.next(y);
    if (!hx || !hy) return hx == hy;
    if (x == ">" || y == ">") return true;
    if (x == "*" || y == "*") continue;
    if (x != y) return false;
  }
}

std::string stream_import_subject(const AccountImport& im) {
  if (!im.to.empty()) return im.to;
  if (!im.prefix.empty()) return im.prefix.back() == '.' ? im.prefix + im.subject : im.prefix + "." + im.subject;
  return im.subject;
}

namespace {

using Kind = AccountExport::Kind;

const char* kind_name(Kind k) { return k == Kind::kStream ? "stream" : "service"; }

// An import as the checks see it, once added (the reference's streamImport/serviceImport).
struct Added {
  std::string from_account;  // the exporter (si.acc)
  std::string from, to;      // the reference's si.from / si.to
};

struct State {
  const std::vector<AccountConfig>& accounts;
  std::map<std::string, size_t, std::less<>> by_name;
  std::map<std::string, std::vector<Added>, std::less<>> streams, services;  // per importing account

  const AccountConfig* find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &accounts[it->second];
  }

  // The reference's checkStreamExportApproved / checkServiceExportApproved: an exact export
  // first, else the first export the subject is a subset of.
  bool approved(const AccountConfig& exporter, Kind kind, std::string_view importer, std::string_view subject) const {
    if (!proto::valid_subscribe_subject(subject)) return false;
    const AccountExport* hit = nullptr;
    for (const auto& ex : exporter.exports) {
      if (ex.kind == kind && ex.subject == subject) hit = &ex;
    }
    if (!hit) {
      for (const auto& ex : exporter.exports) {
        if (ex.kind == kind && pattern_covers(ex.subject, subject)) {
          hit = &ex;
          break;
        }
      }
    }
    if (!hit) return false;
    if (hit->accounts.empty()) return true;
    for (const auto& a : hit->accounts) {
      if (a == importer) return true;
    }
    return false;
  }

  bool has_stream_export_matching(const AccountConfig& a, std::string_view to) const {
    for (const auto& ex : a.exports) {
      if (ex.kind == Kind::kStream && pattern_covers(ex.subject, to)) return true;
    }
    return false;
  }

  // accounts.go checkStreamImportsForCycles, on account `a`.
  bool stream_cycle(const AccountConfig& a, std::string to, std::set<std::string>& visited) const {
    if (!has_stream_export_matching(a, to)) return false;
    auto it = streams.find(a.name);
    if (it == streams.end()) return false;
    for (const auto& si : it->second) {
      if (!subjects_collide(to, si.to)) continue;
      if (visited.count(si.from_account)) return true;
      visited.insert(a.name);
      if (pattern_covers(to, si.to)) to = si.to;
      if (const AccountConfig* next = find(si.from_account); next && stream_cycle(*next, to, visited)) return true;
    }
    return false;
  }

  // accounts.go checkServiceImportsForCycles, on account `a`.
  bool service_cycle(const AccountConfig& a, std::string from, std::set<std::string>& visited) const {
    auto it = services.find(a.name);
    if (it == services.end()) return false;
    for (const auto& si : it->second) {
      if (!subjects_collide(from, si.to)) continue;
      if (visited.count(si.from_account)) return true;
      visited.insert(a.name);
      if (pattern_covers(from, si.from)) from = si.from;
      if (const AccountConfig* next = find(si.from_account); next && service_cycle(*next, from, visited)) return true;
    }
    return false;
  }
};

}  // namespace

std::optional<ImportsProblem> check_imports(const std::vector<AccountConfig>& accounts) {
  State st{accounts, {}, {}, {}};
  for (size_t i = 0; i < accounts.size(); ++i) st.by_name.emplace(accounts[i].name, i);

  for (size_t ai = 0; ai < accounts.size(); ++ai) {
    const auto& acc = accounts[ai];
    for (size_t i = 0; i < acc.exports.size(); ++i) {
      const auto& ex = acc.exports[i];
      auto problem = [&](std::string msg) { return ImportsProblem{ai, true, i, std::move(msg)}; };
      for (const auto& n : ex.accounts) {
        if (!st.find(n)) return problem(fmt::format("\"{}\" account not defined for {} export", n, kind_name(ex.kind)));
      }
      if (!proto::valid_subscribe_subject(ex.subject)) {
        return problem(fmt::format("Error adding {} export \"{}\": invalid subject", kind_name(ex.kind), ex.subject));
      }
    }
  }
  for (size_t ai = 0; ai < accounts.size(); ++ai) {
    const auto& acc = accounts[ai];
    for (size_t i = 0; i < acc.imports.size(); ++i) {
      const auto& im = acc.imports[i];
      auto problem = [&](std::string msg) { return ImportsProblem{ai, false, i, std::move(msg)}; };
      const char* kind = kind_name(im.kind);
      const AccountConfig* exporter = st.find(im.account);
      if (!exporter) return problem(fmt::format("\"{}\" account not defined for {} import", im.account, kind));
      auto failed = [&](std::string_view why) {
        return problem(fmt::format("Error adding {} import \"{}\": {}", kind, im.subject, why));
      };
      if (im.kind == Kind::kStream) {
        if (!st.approved(*exporter, Kind::kStream, acc.name, im.subject)) return failed("stream import not authorized");
        if (!im.prefix.empty() && !proto::is_literal(im.prefix)) {
          return failed("stream import prefix can not contain wildcard tokens");
        }
        std::string to = stream_import_subject(im);
        if (!proto::valid_subscribe_subject(to)) return failed("invalid subject");
        std::set<std::string> visited{acc.name};
        if (st.stream_cycle(*exporter, to, visited)) return failed("import forms a cycle");
        for (const auto& prev : st.streams[acc.name]) {
          if (prev.from_account == im.account && prev.from == im.subject) return failed("stream import already exists");
        }
        st.streams[acc.name].push_back(Added{im.account, im.subject, to});
      } else {
        std::string local = im.to.empty() ? im.subject : im.to;
        if (!proto::valid_subscribe_subject(im.subject) || !proto::valid_subscribe_subject(local)) {
          return failed("sublist: invalid subject");
        }
        if (!st.approved(*exporter, Kind::kService, acc.name, im.subject)) return failed("service import not authorized");
        std::set<std::string> visited{acc.name};
        if (st.service_cycle(*exporter, local, visited)) return failed("import forms a cycle");
        st.services[acc.name].push_back(Added{im.account, local, im.subject});
      }
    }
  }
  return std::nullopt;
}

}  // namespace pylon::server
