#include "server/account/account.h"

#include <mutex>

namespace pylon::server {

Account::Account(std::string name, size_t cache_max)
    : name_(std::move(name)), global_(name_ == kGlobalAccount), index_(cache_max) {}

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
  std::unique_lock lk(mu_);
  bool changed = false;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    bool kept = it->second == global_;
    for (const auto& a : o.accounts) kept = kept || a.name == it->first;
    changed |= !kept;
    it = kept ? std::next(it) : by_name_.erase(it);
  }
  for (const auto& a : o.accounts) {
    if (by_name_.count(a.name)) continue;
    by_name_.emplace(a.name, std::make_shared<Account>(a.name));
    changed = true;
  }
  if (changed) generation_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace pylon::server
