#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace pylon::faults {
namespace {

constexpr const char* kPrefix = "pylon-fault-";
constexpr const char* kSubnet = "10.250.0.";  // private, and only inside our namespaces

ino_t netns_inode(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0 ? st.st_ino : 0;
}

// The namespace the test process started in, read before any thread could switch.
const ino_t kOriginalNs = netns_inode("/proc/self/ns/net");
const int kOriginalNsFd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

std::string full_name(const std::string& name) {
  return std::string(kPrefix) + std::to_string(::getpid()) + "-" + name;
}

void must(const std::string& command) {
  std::string out;
  int rc = run(command, &out);
  if (rc != 0) throw std::runtime_error("`" + command + "` failed (" + std::to_string(rc) + "): " + out);
}

}  // namespace

int run(const std::string& command, std::string* out) {
  std::string cmd = command + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  int status = ::pclose(p);
  if (out) *out = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string netns_unavailable_reason() {
  if (::geteuid() != 0) return "not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN";
  std::string out;
  if (run("ip -V", &out) != 0) return "`ip` (iproute2) is not installed";
  if (run("ip netns list", &out) != 0) return "`ip netns` does not work here: " + out;
  // A bridge and a veth pair inside a throwaway namespace: what every test needs.
  std::string probe = full_name("probe");
  std::string why;
  if (run("ip netns add " + probe, &out) != 0) return "`ip netns add` failed: " + out;
  if (run("ip -n " + probe + " link add pbr type bridge", &out) != 0)
    why = "no bridge support in this kernel: " + out;
  else if (run("ip -n " + probe + " link add pa type veth peer name pb", &out) != 0)
    why = "no veth support in this kernel: " + out;
  run("ip netns del " + probe);
  return why;
}

void reap_stale_namespaces() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(kPrefix, 0) != 0) continue;
    std::string rest = n.substr(std::strlen(kPrefix));
    pid_t pid = static_cast<pid_t>(std::atol(rest.c_str()));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its test is still running
    run("ip netns del " + n);
  }
}

// ------------------------------------------------------------------ NetNs

NetNs::NetNs(const std::string& name) : name_(full_name(name)) {
  must("ip netns add " + name_);
  fd_ = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    run("ip netns del " + name_);
    throw std::runtime_error("cannot open /run/netns/" + name_ + ": " + std::strerror(errno));
  }
  ip("link set lo up");
}

NetNs::~NetNs() {
  if (fd_ >= 0) ::close(fd_);
  // Processes still inside keep the namespace alive until they exit; the name goes now.
  run("ip netns del " + name_);
}

void NetNs::ip(const std::string& args) const { must("ip -n " + name_ + " " + args); }
void NetNs::tc(const std::string& args) const { must("tc -n " + name_ + " " + args); }

// ------------------------------------------------------------------ NsScope

NsScope::NsScope(int fd, const std::string& name) {
  prev_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (prev_fd_ < 0) throw std::runtime_error(std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno));
  if (::setns(fd, CLONE_NEWNET) != 0) {
    int e = errno;
    ::close(prev_fd_);
    throw std::runtime_error("setns " + name + ": " + std::strerror(e));
  }
}

NsScope::~NsScope() {
  if (prev_fd_ < 0) return;
  if (::setns(prev_fd_, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "setns back failed: %s; aborting rather than run on in a test namespace\n",
                 std::strerror(errno));
    std::abort();
  }
  ::close(prev_fd_);
}

bool in_original_namespace() { return netns_inode("/proc/thread-self/ns/net") == kOriginalNs; }

int original_namespace_fd() { return kOriginalNsFd; }

// ------------------------------------------------------------------ Lan

Lan::Lan() {
  bridge_ = std::make_unique<NetNs>("br");
  // No STP: a port that comes back up forwards at once.
  bridge_->ip("link add br0 type bridge stp_state 0 forward_delay 0");
  bridge_->ip("link set br0 up");
}

Lan::~Lan() {
  // A namespace's veth ends vanish with it, their peers with them.
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) members_.erase(*it);
  bridge_.reset();
}

NetNs& Lan::add(const std::string& name, int host) {
  auto ns = std::make_unique<NetNs>(name);
  std::string port = "p-" + name;
  // Both ends are born in our namespaces: the pair never exists in the root namespace.
  bridge_->ip("link add " + port + " type veth peer name eth0 netns " + ns->name());
  bridge_->ip("link set " + port + " master br0");
  bridge_->ip("link set " + port + " up");
  std::string addr = kSubnet + std::to_string(host);
  ns->ip("addr add " + addr + "/24 dev eth0");
  ns->ip("link set eth0 up");
  NetNs& ref = *ns;
  members_[name] = Member{std::move(ns), addr};
  order_.push_back(name);
  return ref;
}

void Lan::cut(const std::string& name) { bridge_->ip("link set p-" + name + " down"); }

void Lan::heal(const std::string& name) { bridge_->ip("link set p-" + name + " up"); }

void Lan::limit_rate(const std::string& name, const std::string& rate, const std::string& burst,
                     std::chrono::milliseconds latency) {
  ns(name).tc("qdisc replace dev eth0 root tbf rate " + rate + " burst " + burst + " latency " +
              std::to_string(latency.count()) + "ms");
}

}  // namespace pylon::faults
