// The config-file reader (src/server/config/parser.cc): it never crashes, and every error is a
// ConfigError whose text starts with "file:line:col: " (line and column from 1), so a user is
// always pointed at the spot. Includes resolve inside a scratch directory holding a few small
// files (one includes itself, one includes the other); the environment is a fixed fake one.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "server/config/config.h"

namespace {

const std::string& scratch_dir() {
  // Never destroyed: the exit handler that removes the directory runs after static
  // destructors would have.
  static const std::string& dir = *new std::string([] {
    char tmpl[] = "/tmp/pylon-config-fuzz-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (d == nullptr) std::abort();
    std::string s(d);
    auto write = [&](const char* name, const char* text) { std::ofstream(s + "/" + name) << text; };
    write("a.conf", "port: 4222\nauthorization { user: a, password: b }\n");
    write("b.conf", "include a.conf\ncluster { listen: 127.0.0.1:4248 }\n");
    write("self.conf", "x: 1\ninclude self.conf\n");
    write("bad.conf", "x: [1, 2\n");
    std::atexit([] { std::filesystem::remove_all(scratch_dir()); });
    return s;
  }());
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // An include may name any file; keep the reader inside the scratch directory (a path with a
  // separator could reach /dev/zero, which is no finding about the reader).
  if (text.find('/') != std::string_view::npos || text.find('\\') != std::string_view::npos) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("include") != std::string::npos) return -1;
  }
  pylon::config::ParseOptions opts;
  opts.base_dir = scratch_dir();
  opts.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "FUZZ_PORT") return "4222";
    if (name == "FUZZ_MAP") return "{ a: 1, b: [x, y] }";
    if (name == "FUZZ_SELF") return "$FUZZ_SELF";
    if (name == "FUZZ_STR") return "\"quoted\"";
    return std::nullopt;
  };
  try {
    pylon::config::parse_string(text, "fuzz.conf", opts);
  } catch (const pylon::config::ConfigError& e) {
    const std::string want = e.pos.to_string() + ": ";
    const std::string what = e.what();
    if (e.pos.line < 1 || e.pos.column < 1 || what.compare(0, want.size(), want) != 0 ||
        (e.pos.file != "fuzz.conf" && e.pos.file.rfind(scratch_dir(), 0) != 0)) {
      std::fprintf(stderr, "config error without file:line:col: %s\n", what.c_str());
      std::abort();
    }
  }
  return 0;
}
