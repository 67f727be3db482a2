#include "mkpasswd.h"

#include <openssl/rand.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "server/client/auth.h"

namespace pylon::tools {

namespace {

struct MkpasswdOptions {
  bool prompt = false;
  int cost = 11;
};

// Reads a line from the terminal without echo (or plainly from a pipe).
std::string read_secret(const char* prompt) {
  bool tty = ::isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// 22 characters from [A-Za-z0-9], uniformly, from OpenSSL's CSPRNG (as the reference's length).
std::string random_password() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < 22) {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no secure random numbers available");
    for (unsigned char c : b) {
      if (c < 248 && out.size() < 22) out += kAlphabet[c % 62];  // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

int run(const MkpasswdOptions& o) {
  try {
    std::string pw;
    if (o.prompt) {
      pw = read_secret("Enter Password: ");
      if (::isatty(STDIN_FILENO)) {
        std::string again = read_secret("Reenter Password: ");
        if (again != pw) {
          std::cerr << "pylon mkpasswd: passwords do not match\n";
          return 1;
        }
      }
      if (pw.empty()) {
        std::cerr << "pylon mkpasswd: empty password\n";
        return 1;
      }
    } else {
      pw = random_password();
      std::cout << "pass: " << pw << "\n";
    }
    std::cout << "bcrypt hash: " << server::bcrypt_hash(pw, o.cost) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pylon mkpasswd: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

void add_mkpasswd(CLI::App& app, int& rc) {
  auto o = std::make_shared<MkpasswdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "mkpasswd",
      "Print a bcrypt hash for a config file's password or token. With -p, asks for the password\n"
      "(no echo; read from stdin when it is not a terminal); without, generates a strong one.");
  cmd->add_flag("-p,--password", o->prompt, "Ask for the password instead of generating one");
  cmd->add_option("--cost", o->cost, "bcrypt cost")->capture_default_str()->check(CLI::Range(4, 31));
  cmd->callback([o, &rc] { rc = run(*o); });
}

}  // namespace pylon::tools
