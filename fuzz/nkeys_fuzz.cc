// The nkeys decoder (src/nkeys): any text a peer or a config file may hold as a key, a seed or
// a CONNECT's signature. What must hold:
// - base32_decode agrees with a plain bit-by-bit decoder written from Go's rules here (the
//   same bytes, or an error at the same offset);
// - whatever decodes re-encodes to text that decodes to the same bytes (base32, keys, seeds,
//   signatures), and prefix_of / is_valid_public_key agree with decode and decode_seed;
// - verify with any decodable key answers "verified" or nkeys' own refusal, never crashes
//   (OpenSSL sees every 32-byte string as a candidate point); a seed's own signature verifies.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nkeys/nkeys.h"

namespace nk = pylon::nkeys;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "nkeys_fuzz: %s\n", what);
  std::abort();
}

// Go's base32 (no padding) by the book: newlines dropped, then 5 bits a character; a final
// quantum of 1, 3 or 6 characters yields nothing; otherwise floor(bits / 8) bytes.
std::optional<size_t> naive_base32(std::string_view in, nk::Bytes& out) {
  std::string s;
  for (char c : in) {
    if (c != '\r' && c != '\n') s += c;
  }
  out.clear();
  std::vector<int> bits;
  for (size_t i = 0; i < s.size(); ++i) {
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const char* at = s[i] ? std::strchr(alphabet, s[i]) : nullptr;
    if (!at) return i;
    int v = static_cast<int>(at - alphabet);
    for (int b = 4; b >= 0; --b) bits.push_back((v >> b) & 1);
  }
  size_t tail = s.size() % 8;
  size_t usable = s.size() - tail;
  size_t bytes = usable / 8 * 5 + (tail == 1 || tail == 3 || tail == 6 ? 0 : tail * 5 / 8);
  for (size_t k = 0; k < bytes; ++k) {
    int v = 0;
    for (int b = 0; b < 8; ++b) v = (v << 1) | bits[k * 8 + b];
    out.push_back(static_cast<uint8_t>(v));
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  nk::Bytes ours, naive;
  auto err = nk::base32_decode(text, ours);
  auto naive_at = naive_base32(text, naive);
  if (err.has_value() != naive_at.has_value()) fail("base32_decode and the naive decoder disagree on an error");
  if (err) {
    if (*err != "illegal base32 data at input byte " + std::to_string(*naive_at)) fail("base32 error offset");
  } else {
    if (ours != naive) fail("base32_decode and the naive decoder disagree on the bytes");
    nk::Bytes again;
    if (nk::base32_decode(nk::base32_encode(ours), again) || again != ours) fail("base32 round trip");
  }

  nk::Bytes raw;
  bool raw_ok = !nk::decode_raw(text, raw);
  nk::Prefix prefix = nk::prefix_of(text);
  if (!raw_ok && prefix != nk::Prefix::kUnknown) fail("prefix_of names a type for text that does not decode");
  if (raw_ok) {
    // Re-encoded with its CRC, the same raw bytes come back.
    nk::Bytes framed = raw;
    uint16_t crc = nk::crc16(raw);
    framed.push_back(static_cast<uint8_t>(crc & 0xFF));
    framed.push_back(static_cast<uint8_t>(crc >> 8));
    nk::Bytes back;
    if (nk::decode_raw(nk::base32_encode(framed), back) || back != raw) fail("decode_raw round trip");
  }

  for (nk::Prefix p : {nk::Prefix::kUser, nk::Prefix::kAccount, nk::Prefix::kServer, nk::Prefix::kOperator,
                       nk::Prefix::kCluster}) {
    nk::Bytes payload;
    bool ok = !nk::decode(p, text, payload);
    if (ok && prefix != p) fail("decode accepts a type prefix_of does not report");
    if (ok) {
      nk::Bytes back;
      if (nk::decode(p, nk::encode(p, payload), back) || back != payload) fail("decode/encode round trip");
    }
    bool valid = nk::is_valid_public_key(text, p);
    if (valid && !(ok && payload.size() == nk::kPublicKeySize)) fail("is_valid_public_key without a 32-byte key");
    if (valid) {
      // Any answer but "verified" or nkeys' own refusal is a finding. A zero signature may
      // verify: for a small-order key (e.g. 32 zero bytes) Ed25519 accepts it for a quarter of
      // messages, in OpenSSL as in Go (crash-small-order-key); configured keys are no such
      // thing, since they come from a seed.
      nk::Signature zero{};
      auto v = nk::verify(text, std::span(data, size), zero);
      if (v && *v != nk::kErrInvalidSignature) fail("verify answered with another error");
      if (!nk::is_valid_public_key(text)) fail("valid for a type but not as a public key");
    }
  }

  nk::Prefix type{};
  nk::Bytes seed;
  if (!nk::decode_seed(text, type, seed)) {
    if (prefix != nk::Prefix::kSeed) fail("decode_seed accepts what prefix_of does not call a seed");
    if (seed.size() != nk::kSeedSize || !nk::is_public_prefix(type)) fail("decode_seed's result");
    std::string canonical = nk::encode_seed(type, seed);
    auto kp = nk::KeyPair::from_seed(canonical);
    if (!kp || kp->seed() != canonical) fail("seed round trip");
    auto sig = kp->sign(text);
    if (nk::verify(kp->public_key(), std::span(data, size), sig)) fail("a key pair's own signature failed");
  }
  if (auto found = nk::find_seed(text)) {
    if (!nk::KeyPair::from_seed(*found)) fail("find_seed found no seed");
  }

  nk::Bytes sig;
  if (nk::decode_signature_base64(text, sig)) {
    nk::Bytes back;
    if (!nk::decode_signature_base64(nk::base64url_encode(sig), back) || back != sig) fail("base64 round trip");
  }
  return 0;
}
