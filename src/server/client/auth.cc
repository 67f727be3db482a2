#include "server/client/auth.h"

#include <crypt.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/crypto.h>

namespace pylon::server {

bool is_bcrypt(std::string_view s) noexcept {
  return s.size() > 4 && s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$';
}

namespace {
bool equal_ct(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

bool check_password(std::string_view stored, std::string_view given) {
  if (!is_bcrypt(stored)) return equal_ct(stored, given);
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string pw(given), setting(stored);
  const char* out = crypt_rn(pw.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  if (!out || out[0] == '*') return false;
  return equal_ct(out, stored);
}

std::string bcrypt_hash(std::string_view password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2a$", cost, nullptr, 0, salt, sizeof salt)) {
    throw std::runtime_error("bcrypt: cannot generate a salt");
  }
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), salt, data.get(), sizeof(crypt_data));
  if (!out || out[0] == '*') throw std::runtime_error("bcrypt: hashing failed");
  return out;
}

}  // namespace pylon::server
