// Go-style command-line flags for the example programs, so they take the same
// arguments as the user's Go programs: `-subj foo`, `-subj=foo`, `--subj foo`, and
// booleans as `-v` or `-v=false`. `-h` prints the usage.
#pragma once

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace examples {

class GoFlags {
 public:
  explicit GoFlags(std::string program) : program_(std::move(program)) {}

  void string(const std::string& name, std::string* v, const std::string& usage) {
    add(name, usage, "\"" + *v + "\"", false, [v](const std::string& s) {
      *v = s;
      return true;
    });
  }
  void integer(const std::string& name, long* v, const std::string& usage) {
    add(name, usage, std::to_string(*v), false, [v](const std::string& s) {
      char* end = nullptr;
      *v = std::strtol(s.c_str(), &end, 10);
      return end && *end == 0 && !s.empty();
    });
  }
  void boolean(const std::string& name, bool* v, const std::string& usage) {
    add(name, usage, *v ? "true" : "false", true, [v](const std::string& s) {
      if (s == "true" || s == "1") *v = true;
      else if (s == "false" || s == "0") *v = false;
      else return false;
      return true;
    });
  }
  // Go durations: "2s", "500ms", "1m", "1m30s" (or plain seconds).
  void duration(const std::string& name, std::chrono::milliseconds* v, const std::string& usage) {
    add(name, usage, std::to_string(v->count()) + "ms", false, [v](const std::string& s) { return parse_duration(s, v); });
  }

  // Exits with status 2 on a bad flag, 0 after -h.
  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "-help" || a == "--help") usage(0);
      if (a.size() < 2 || a[0] != '-') fail("unexpected argument " + a);
      std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      auto it = flags_.find(name);
      if (it == flags_.end()) fail("flag provided but not defined: -" + name);
      if (!has_value) {
        if (it->second.boolean) {
          value = "true";
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          fail("flag needs an argument: -" + name);
        }
      }
      if (!it->second.set(value)) fail("invalid value \"" + value + "\" for flag -" + name);
    }
  }

  static bool parse_duration(const std::string& s, std::chrono::milliseconds* out) {
    if (s.empty()) return false;
    double total_ms = 0;
    size_t i = 0;
    bool any = false;
    while (i < s.size()) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      if (j == i) return false;
      double n = std::atof(s.substr(i, j - i).c_str());
      size_t k = j;
      while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
      std::string unit = s.substr(j, k - j);
      if (unit == "ms") total_ms += n;
      else if (unit == "s" || unit.empty()) total_ms += n * 1000;
      else if (unit == "m") total_ms += n * 60000;
      else if (unit == "h") total_ms += n * 3600000;
      else return false;
      any = true;
      i = k;
    }
    *out = std::chrono::milliseconds(static_cast<long long>(total_ms));
    return any;
  }

 private:
  struct Flag {
    std::string usage, def;
    bool boolean;
    std::function<bool(const std::string&)> set;
  };
  void add(const std::string& name, const std::string& usage, const std::string& def, bool boolean,
           std::function<bool(const std::string&)> set) {
    flags_[name] = Flag{usage, def, boolean, std::move(set)};
  }
  [[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    usage(2);
  }
  [[noreturn]] void usage(int code) {
    std::fprintf(code ? stderr : stdout, "Usage of %s:\n", program_.c_str());
    for (const auto& [name, f] : flags_) {
      std::fprintf(code ? stderr : stdout, "  -%s\n    \t%s (default %s)\n", name.c_str(), f.usage.c_str(), f.def.c_str());
    }
    std::exit(code);
  }

  std::string program_;
  std::map<std::string, Flag> flags_;
};

// Splits "a,b,c".
inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace examples
