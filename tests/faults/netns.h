// Network namespaces for fault tests: a private LAN (a bridge in a namespace of its own, one
// namespace per member, a veth pair from each member to the bridge) on which a link can be cut,
// healed and rate-limited without touching anything outside the namespaces this process created.
//
// Rules these classes keep:
//  - every namespace is named "pylon-fault-<pid>-<name>", created with `ip netns add` and
//    deleted by name on destruction (also when the test fails); reap_stale_namespaces()
//    deletes those of test processes that died before their cleanup (e.g. killed by ctest);
//  - addresses (10.250.0.0/24) exist only inside these namespaces; the root namespace gets
//    no interface, route or address;
//  - setns(2) moves one thread: NsScope switches the calling thread and switches it back, so
//    the sockets it opens and the processes it forks meanwhile live in that namespace.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pylon::faults {

// Empty when this process can create namespaces (root, `ip netns`, veth, bridge); otherwise
// why not, for GTEST_SKIP.
std::string netns_unavailable_reason();

// Deletes the namespaces "pylon-fault-<pid>-*" whose process no longer exists.
void reap_stale_namespaces();

// Runs `command` with /bin/sh; its exit code (-1 when it could not run), output in *out.
int run(const std::string& command, std::string* out = nullptr);

class NetNs {
 public:
  // Creates "pylon-fault-<pid>-<name>" with its loopback up. Throws std::runtime_error.
  explicit NetNs(const std::string& name);
  ~NetNs();
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  const std::string& name() const { return name_; }
  // `ip -n <name> <args>`; throws std::runtime_error when it fails.
  void ip(const std::string& args) const;
  // `tc -n <name> <args>`; throws std::runtime_error when it fails.
  void tc(const std::string& args) const;
  int fd() const { return fd_; }

 private:
  std::string name_;
  int fd_ = -1;
};

// The calling thread lives in `ns` until this is destroyed, then returns to where it was.
class NsScope {
 public:
  explicit NsScope(const NetNs& ns) : NsScope(ns.fd(), ns.name()) {}
  // `fd` an open namespace file (original_namespace_fd()); `name` for error messages.
  NsScope(int fd, const std::string& name);
  ~NsScope();
  NsScope(const NsScope&) = delete;
  NsScope& operator=(const NsScope&) = delete;

 private:
  int prev_fd_ = -1;
};

// True when the calling thread is in the namespace the process started in (the root one,
// for a test); original_namespace_fd() opens that one, for an NsScope back into it.
bool in_original_namespace();
int original_namespace_fd();

// A LAN: members on one bridge, 10.250.0.<host>/24 each.
class Lan {
 public:
  Lan();
  ~Lan();  // members first, then the bridge
  Lan(const Lan&) = delete;
  Lan& operator=(const Lan&) = delete;

  // A new member namespace with address 10.250.0.<host> on its "eth0", linked to the bridge
  // through the bridge port "p-<name>".
  NetNs& add(const std::string& name, int host);
  NetNs& ns(const std::string& name) { return *members_.at(name).ns; }
  std::string address(const std::string& name) const { return members_.at(name).address; }

  // The member's cable is pulled: its bridge port goes down. Nothing is reset: packets are
  // dropped both ways, as in a real partition, and the peers only notice by their timeouts.
  void cut(const std::string& name);
  void heal(const std::string& name);
  // A token bucket on the member's egress (tc tbf): `rate` like "4mbit", `burst` like "32kb",
  // queueing at most `latency` before dropping.
  void limit_rate(const std::string& name, const std::string& rate, const std::string& burst,
                  std::chrono::milliseconds latency);

 private:
  struct Member {
    std::unique_ptr<NetNs> ns;
    std::string address;
  };
  std::unique_ptr<NetNs> bridge_;
  std::map<std::string, Member> members_;
  std::vector<std::string> order_;
};

}  // namespace pylon::faults
