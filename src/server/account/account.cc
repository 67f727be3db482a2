#include "server/account/account.h"

#include <mutex>

#include <fmt/format.h>

#include <random>

#include "server/account/imports_check.h"
#include "server/account/service_import.h"
#include "server/client/permissions.h"
#include "server/route/cluster.h"
#include "server/server.h"

namespace pylon::server {

Account::Account(std::string name, size_t cache_max)
    : name_(std::move(name)), global_(name_ == kGlobalAccount), index_(cache_max) {}

std::shared_ptr<const std::vector<StreamImport>> Account::stream_imports() const {
  std::lock_guard lk(imports_mu_);
  return stream_imports_;
}

void Account::set_stream_imports(std::vector<StreamImport> imports) {
  auto next = imports.empty() ? nullptr : std::make_shared<const std::vector<StreamImport>>(std::move(imports));
  std::lock_guard lk(imports_mu_);
  stream_imports_ = std::move(next);
}

namespace {
// The reference's DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD.
constexpr auto kDefaultResponseThreshold = std::chrono::minutes(2);
// Past this many pending responses, expired ones are swept on the next request.
constexpr size_t kResponseSweepAt = 1024;

std::string random_token(uint64_t& state, size_t n) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    out += kAlphabet[state % 62];
  }
  return out;
}
}  // namespace

std::string Account::add_response(Server& server, const std::shared_ptr<Account>& importer, std::string_view reply,
                                  AccountExport::ResponseType type, Duration threshold) {
  if (threshold <= Duration::zero()) threshold = kDefaultResponseThreshold;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lk(resp_mu_);
  if (!resp_sub_) {
    resp_rng_ = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}() | 1;
    resp_prefix_ = "_R_." + random_token(resp_rng_, 6) + ".";
    const std::string subject = resp_prefix_ + ">";
    auto sub = std::make_shared<Subscription>(subject, "", subject);
    sub->remote = true;  // not a client's (see Subscription::internal)
    sub->set_internal(std::make_shared<ResponseSubscriber>(weak_from_this()));
    index_.insert(sub);
    server.local_sub_added(*this, *sub);
    resp_sub_ = std::move(sub);
  }
  if (responses_.size() >= kResponseSweepAt) {
    for (auto it = responses_.begin(); it != responses_.end();) {
      it = it->second.expires < now ? responses_.erase(it) : std::next(it);
    }
  }
  std::string subject = resp_prefix_ + random_token(resp_rng_, 12);
  responses_.insert_or_assign(subject, PendingResponse{importer, std::string(reply), type, threshold, now + threshold});
  return subject;
}

Account::ResponseTarget Account::take_response(std::string_view subject, bool last) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lk(resp_mu_);
  auto it = responses_.find(std::string(subject));
  if (it == responses_.end()) return {};
  PendingResponse& p = it->second;
  if (p.expires < now) {
    responses_.erase(it);
    return {};
  }
  ResponseTarget t{p.importer.lock(), p.reply};
  if (p.type == AccountExport::ResponseType::kSingleton || last || !t.importer) {
    responses_.erase(it);
  } else {
    p.expires = now + p.threshold;  // stream, chunked: open while responses keep coming
  }
  return t;
}

void Account::drop_response(std::string_view subject) {
  std::lock_guard lk(resp_mu_);
  responses_.erase(std::string(subject));
}

size_t Account::pending_responses() const {
  std::lock_guard lk(resp_mu_);
  return responses_.size();
}

Accounts::Accounts() : global_(std::make_shared<Account>(kGlobalAccount)) {
  by_name_.emplace(global_->name(), global_);
}

std::shared_ptr<Account> Accounts::find(std::string_view name) const {
  std::shared_lock lk(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Account>> Accounts::all() const {
  std::vector<std::shared_ptr<Account>> out{global_};
  std::shared_lock lk(mu_);
  out.reserve(by_name_.size());
  for (const auto& [name, a] : by_name_) {
    if (a != global_) out.push_back(a);
  }
  return out;
}

void Accounts::configure(const Options& o) {
  // The system account exists whether or not `accounts {}` configures it (the implicit $SYS,
  // as the reference's SetDefaultSystemAccount); a reload cannot change which one it is.
  const std::string system = o.effective_system_account();
  std::unique_lock lk(mu_);
  bool changed = false;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    bool kept = it->second == global_ || it->first == system;
    for (const auto& a : o.accounts) kept = kept || a.name == it->first;
    changed |= !kept;
    it = kept ? std::next(it) : by_name_.erase(it);
  }
  for (const auto& a : o.accounts) {
    if (by_name_.count(a.name)) continue;
    by_name_.emplace(a.name, std::make_shared<Account>(a.name));
    changed = true;
  }
  if (!system.empty() && !by_name_.count(system)) {
    by_name_.emplace(system, std::make_shared<Account>(system));
    changed = true;
  }
  if (changed) generation_.fetch_add(1, std::memory_order_acq_rel);
  // Imports resolve once every account is registered (the config loader checked that the
  // accounts they name exist and export what they import).
  for (const auto& a : o.accounts) {
    std::vector<StreamImport> streams;
    for (const auto& im : a.imports) {
      if (im.kind != AccountExport::Kind::kStream) continue;
      auto from = by_name_.find(im.account);
      if (from == by_name_.end()) continue;
      std::string prefix = im.prefix;
      if (!prefix.empty() && prefix.back() != '.') prefix += '.';
      streams.push_back(StreamImport{from->second, im.subject, stream_import_subject(im), prefix});
    }
    by_name_.at(a.name)->set_stream_imports(std::move(streams));
  }
  // Service imports: an internal subscription on each import's local subject, replaced as a
  // whole on a reload (as the reference's removeAllServiceImportSubs/addAllServiceImportSubs).
  for (const auto& a : o.accounts) {
    auto importer = by_name_.at(a.name);
    for (auto& old : importer->service_subs_) {
      old->closed.store(true, std::memory_order_relaxed);
      importer->index().remove(old);
    }
    importer->service_subs_.clear();
    for (const auto& im : a.imports) {
      if (im.kind != AccountExport::Kind::kService) continue;
      auto from = by_name_.find(im.account);
      if (from == by_name_.end()) continue;
      // The export that authorizes it gives the response type and threshold.
      AccountExport::ResponseType type = AccountExport::ResponseType::kSingleton;
      Duration threshold{0};
      for (const auto& other : o.accounts) {
        if (other.name != im.account) continue;
        for (const auto& ex : other.exports) {
          if (ex.kind == AccountExport::Kind::kService && pattern_covers(ex.subject, im.subject)) {
            type = ex.response;
            threshold = ex.response_threshold;
            break;
          }
        }
      }
      const std::string& subject = im.to.empty() ? im.subject : im.to;
      auto sub = std::make_shared<Subscription>(subject, "", subject);
      sub->remote = true;  // not a client's (see Subscription::internal)
      sub->set_internal(std::make_shared<ServiceImportSubscriber>(importer, from->second, subject, im.subject,
                                                                  type, threshold));
      importer->index().insert(sub);
      importer->service_subs_.push_back(std::move(sub));
    }
  }
  if (system.empty()) return;
  const std::shared_ptr<Account>& sys = by_name_.at(system);
  for (const auto& [name, importer] : by_name_) {
    if (importer == sys || !importer->system_import_subs_.empty()) continue;
    for (const auto& si : kSystemImports) {
      // An import of the account's own on the same subject wins (the reference adds its own
      // only when the subject is not imported already).
      bool taken = false;
      for (const auto& a : o.accounts) {
        if (a.name != name) continue;
        for (const auto& im : a.imports) {
          taken = taken || (im.kind == AccountExport::Kind::kService && (im.to.empty() ? im.subject : im.to) == si.subject);
        }
      }
      if (taken) continue;
      auto sub = std::make_shared<Subscription>(si.subject, "", si.subject);
      sub->remote = true;  // not a client's (see Subscription::internal)
      sub->set_internal(std::make_shared<ServiceImportSubscriber>(
          importer, sys, si.subject, fmt::format("$SYS.REQ.ACCOUNT.{}.{}", name, si.request),
          AccountExport::ResponseType::kStream, Duration{0}));
      importer->index().insert(sub);
      importer->system_import_subs_.push_back(std::move(sub));
    }
  }
}

}  // namespace pylon::server
