#include "server/client/nkeys.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "nkeys/nkeys.h"

namespace pylon::server {

std::string make_nonce() {
  std::array<uint8_t, kNonceRawLen> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("no randomness for a nonce");
  return nkeys::base64url_encode(raw);
}

std::string make_server_nkey_id() { return nkeys::KeyPair::create(nkeys::Prefix::kServer).public_key(); }

std::optional<std::string> check_nonce_signature(std::string_view nkey, std::string_view sig, std::string_view nonce) {
  if (sig.empty()) return std::string("Signature missing");
  nkeys::Bytes raw;
  if (!nkeys::decode_signature_base64(sig, raw)) return std::string("Signature not valid base64");
  if (!nkeys::is_valid_public_key(nkey)) {
    // FromPublicKey's error: the decoding's own, or "invalid public key" for another type.
    nkeys::Bytes decoded;
    auto e = nkeys::decode_raw(nkey, decoded);
    return fmt::format("User nkey not valid: {}", e ? *e : std::string(nkeys::kErrInvalidPublicKey));
  }
  auto data = std::span(reinterpret_cast<const uint8_t*>(nonce.data()), nonce.size());
  if (nkeys::verify(nkey, data, raw)) return std::string("Signature not verified");
  return std::nullopt;
}

const NkeyUser* find_nkey_user(const Options& o, std::string_view nkey) {
  for (const auto& u : o.nkeys) {
    if (u.nkey == nkey) return &u;
  }
  return nullptr;
}

std::optional<std::string> check_nkey_user(const User& user, std::string_view nkey, const std::vector<NkeyUser>& existing) {
  if (!nkeys::is_valid_public_key(nkey, nkeys::Prefix::kUser)) return std::string("Not a valid public nkey for a user");
  if (!user.user.empty() || !user.password.empty()) return std::string("Nkey users do not take usernames or passwords");
  for (const auto& u : existing) {
    if (u.nkey == nkey) return fmt::format("Duplicate nkey \"{}\" detected", nkey);
  }
  return std::nullopt;
}

}  // namespace pylon::server
