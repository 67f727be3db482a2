#include "nkeys/nkeys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace pylon::nkeys {

namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

bool valid_prefix(Prefix p) noexcept {
  switch (p) {
    case Prefix::kOperator:
    case Prefix::kServer:
    case Prefix::kCluster:
    case Prefix::kAccount:
    case Prefix::kUser:
    case Prefix::kSeed:
    case Prefix::kPrivate:
      return true;
    default:
      return false;
  }
}

std::string illegal_base32(size_t at) { return "illegal base32 data at input byte " + std::to_string(at); }

// The Ed25519 public key of a seed (ed25519.GenerateKey from the seed's bytes).
std::array<uint8_t, kPublicKeySize> public_of(std::span<const uint8_t> seed) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) throw std::runtime_error("nkeys: OpenSSL cannot make an Ed25519 key");
  std::array<uint8_t, kPublicKeySize> pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != pub.size()) {
    throw std::runtime_error("nkeys: OpenSSL cannot derive an Ed25519 public key");
  }
  return pub;
}

bool ed25519_verify(std::span<const uint8_t> pub, std::span<const uint8_t> data, std::span<const uint8_t> sig) {
  if (pub.size() != kPublicKeySize || sig.size() != kSignatureSize) return false;
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub.data(), pub.size()));
  if (!key) return false;
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

// One base64 alphabet's reverse table (0xFF: not in it).
struct Base64Table {
  std::array<uint8_t, 256> rev{};
  explicit Base64Table(const char* alphabet) {
    rev.fill(0xFF);
    for (int i = 0; i < 64; ++i) rev[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  }
};
const Base64Table& url_table() {
  static const Base64Table t("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
  return t;
}
const Base64Table& std_table() {
  static const Base64Table t("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  return t;
}

// Go's base64 decoding (not strict): '\r' and '\n' skipped; `padded` wants '=' to fill the
// last quantum, unpadded refuses any '='.
bool base64_decode(std::string_view in, const Base64Table& table, bool padded, Bytes& out) {
  std::string s;
  s.reserve(in.size());
  for (char c : in) {
    if (c != '\r' && c != '\n') s += c;
  }
  size_t data_len = s.size();
  if (padded) {
    if (s.size() % 4 != 0) return false;
    if (data_len > 0 && s[data_len - 1] == '=') --data_len;
    if (data_len > 0 && s[data_len - 1] == '=' && s.size() - data_len == 1) --data_len;
    // "x===" and the like: a quantum needs at least two data characters.
    if (data_len % 4 == 1) return false;
  }
  if (!padded && data_len % 4 == 1) return false;
  out.clear();
  out.reserve(data_len * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_len; ++i) {
    uint8_t v = table.rev[static_cast<uint8_t>(s[i])];
    if (v == 0xFF) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(Prefix p) noexcept {
  switch (p) {
    case Prefix::kOperator: return "operator";
    case Prefix::kServer: return "server";
    case Prefix::kCluster: return "cluster";
    case Prefix::kAccount: return "account";
    case Prefix::kUser: return "user";
    case Prefix::kSeed: return "seed";
    case Prefix::kPrivate: return "private";
    default: return "unknown";
  }
}

std::optional<Prefix> public_prefix_from_name(std::string_view name) noexcept {
  for (Prefix p : {Prefix::kUser, Prefix::kAccount, Prefix::kServer, Prefix::kOperator, Prefix::kCluster}) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

bool is_public_prefix(Prefix p) noexcept {
  switch (p) {
    case Prefix::kServer:
    case Prefix::kCluster:
    case Prefix::kOperator:
    case Prefix::kAccount:
    case Prefix::kUser:
      return true;
    default:
      return false;
  }
}

uint16_t crc16(std::span<const uint8_t> data) noexcept {
  uint16_t crc = 0;
  for (uint8_t b : data) {
    crc ^= static_cast<uint16_t>(b) << 8;
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

std::string base32_encode(std::span<const uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32Alphabet[(acc >> bits) & 31];
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out += kBase32Alphabet[(acc << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> base32_decode(std::string_view text, Bytes& out) {
  // Go strips the newlines first and reports offsets into what is left.
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') s += c;
  }
  out.clear();
  out.reserve(s.size() * 5 / 8);
  // Quantum by quantum (8 characters -> 5 bytes), as Go: a last quantum of 1, 3 or 6
  // characters yields no bytes of its own (it cannot end on a byte), and no error.
  for (size_t q = 0; q < s.size(); q += 8) {
    size_t n = std::min<size_t>(8, s.size() - q);
    uint64_t acc = 0;
    for (size_t j = 0; j < n; ++j) {
      char c = s[q + j];
      uint8_t v;
      if (c >= 'A' && c <= 'Z') v = static_cast<uint8_t>(c - 'A');
      else if (c >= '2' && c <= '7') v = static_cast<uint8_t>(c - '2' + 26);
      else return illegal_base32(q + j);
      acc = (acc << 5) | v;
    }
    acc <<= 5 * (8 - n);
    size_t bytes = 0;
    switch (n) {
      case 8: bytes = 5; break;
      case 7: bytes = 4; break;
      case 5: bytes = 3; break;
      case 4: bytes = 2; break;
      case 2: bytes = 1; break;
      default: bytes = 0; break;
    }
    for (size_t k = 0; k < bytes; ++k) out.push_back(static_cast<uint8_t>(acc >> (32 - 8 * k)));
  }
  return std::nullopt;
}

std::string encode(Prefix prefix, std::span<const uint8_t> src) {
  if (!valid_prefix(prefix)) throw std::invalid_argument(std::string(kErrInvalidPrefixByte));
  Bytes raw;
  raw.reserve(src.size() + 3);
  raw.push_back(static_cast<uint8_t>(prefix));
  raw.insert(raw.end(), src.begin(), src.end());
  uint16_t crc = crc16(raw);
  raw.push_back(static_cast<uint8_t>(crc & 0xFF));
  raw.push_back(static_cast<uint8_t>(crc >> 8));
  std::string out = base32_encode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());  // it may hold a private key
  return out;
}

std::string encode_seed(Prefix public_type, std::span<const uint8_t> seed) {
  if (!is_public_prefix(public_type)) throw std::invalid_argument(std::string(kErrInvalidPrefixByte));
  if (seed.size() != kSeedSize) throw std::invalid_argument(std::string(kErrInvalidSeedLen));
  // Two bytes so that base32 shows 'S' then the type's own letter (5 bits each).
  auto pub = static_cast<uint8_t>(public_type);
  Bytes raw;
  raw.reserve(seed.size() + 4);
  raw.push_back(static_cast<uint8_t>(static_cast<uint8_t>(Prefix::kSeed) | (pub >> 5)));
  raw.push_back(static_cast<uint8_t>((pub & 31) << 3));
  raw.insert(raw.end(), seed.begin(), seed.end());
  uint16_t crc = crc16(raw);
  raw.push_back(static_cast<uint8_t>(crc & 0xFF));
  raw.push_back(static_cast<uint8_t>(crc >> 8));
  std::string out = base32_encode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

std::optional<std::string> decode_raw(std::string_view text, Bytes& raw) {
  if (auto e = base32_decode(text, raw)) return e;
  if (raw.size() < 4) return std::string(kErrInvalidEncoding);
  uint16_t want = static_cast<uint16_t>(raw[raw.size() - 2] | (raw[raw.size() - 1] << 8));
  raw.resize(raw.size() - 2);
  if (crc16(raw) != want) return std::string(kErrInvalidChecksum);
  return std::nullopt;
}

std::optional<std::string> decode(Prefix expected, std::string_view text, Bytes& payload) {
  if (!valid_prefix(expected)) return std::string(kErrInvalidPrefixByte);
  Bytes raw;
  if (auto e = decode_raw(text, raw)) return e;
  if (static_cast<Prefix>(raw[0]) != expected) return std::string(kErrInvalidPrefixByte);
  payload.assign(raw.begin() + 1, raw.end());
  return std::nullopt;
}

std::optional<std::string> decode_seed(std::string_view text, Prefix& public_type, Bytes& seed) {
  Bytes raw;
  if (auto e = decode_raw(text, raw)) return e;
  auto b1 = static_cast<uint8_t>(raw[0] & 248);
  auto b2 = static_cast<uint8_t>((raw[0] & 7) << 5 | ((raw[1] & 248) >> 3));
  if (static_cast<Prefix>(b1) != Prefix::kSeed || !is_public_prefix(static_cast<Prefix>(b2))) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return std::string(kErrInvalidSeed);
  }
  if (raw.size() - 2 != kSeedSize) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return std::string(kErrInvalidSeedLen);
  }
  public_type = static_cast<Prefix>(b2);
  seed.assign(raw.begin() + 2, raw.end());
  OPENSSL_cleanse(raw.data(), raw.size());
  return std::nullopt;
}

Prefix prefix_of(std::string_view text) noexcept {
  try {
    Bytes raw;
    if (decode_raw(text, raw)) return Prefix::kUnknown;
    auto p = static_cast<Prefix>(raw[0]);
    if (valid_prefix(p)) return p;
    if (static_cast<Prefix>(raw[0] & 248) == Prefix::kSeed) return Prefix::kSeed;
    return Prefix::kUnknown;
  } catch (const std::bad_alloc&) {
    return Prefix::kUnknown;
  }
}

bool is_valid_public_key(std::string_view text) noexcept {
  try {
    Bytes raw;
    if (decode_raw(text, raw)) return false;
    return is_public_prefix(static_cast<Prefix>(raw[0])) && raw.size() == 1 + kPublicKeySize;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

bool is_valid_public_key(std::string_view text, Prefix type) noexcept {
  try {
    Bytes payload;
    if (decode(type, text, payload)) return false;
    return is_public_prefix(type) && payload.size() == kPublicKeySize;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

std::optional<std::string> verify(std::string_view public_key, std::span<const uint8_t> data,
                                  std::span<const uint8_t> signature) {
  Bytes raw;
  if (auto e = decode_raw(public_key, raw)) return e;
  // FromPublicKey; a key of another length would make Go's ed25519.Verify panic, here it
  // is an invalid key.
  if (!is_public_prefix(static_cast<Prefix>(raw[0])) || raw.size() != 1 + kPublicKeySize) {
    return std::string(kErrInvalidPublicKey);
  }
  if (!ed25519_verify(std::span(raw).subspan(1), data, signature)) return std::string(kErrInvalidSignature);
  return std::nullopt;
}

// ---- KeyPair --------------------------------------------------------------------------

KeyPair::KeyPair(Prefix type, std::span<const uint8_t> seed) : type_(type) {
  std::copy(seed.begin(), seed.end(), seed_.begin());
  public_ = public_of(seed_);
}

KeyPair KeyPair::create(Prefix type) {
  if (!is_public_prefix(type)) throw std::invalid_argument(std::string(kErrInvalidPrefixByte));
  std::array<uint8_t, kSeedSize> seed{};
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    throw std::runtime_error("nkeys: no randomness for a seed");
  }
  KeyPair kp(type, seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return kp;
}

std::optional<KeyPair> KeyPair::from_seed(std::string_view seed, std::string* error) {
  Prefix type = Prefix::kUnknown;
  Bytes raw;
  if (auto e = decode_seed(seed, type, raw)) {
    if (error) *error = *e;
    return std::nullopt;
  }
  KeyPair kp(type, raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return kp;
}

KeyPair::KeyPair(KeyPair&& o) noexcept : type_(o.type_), seed_(o.seed_), public_(o.public_) { o.wipe(); }

KeyPair& KeyPair::operator=(KeyPair&& o) noexcept {
  if (this != &o) {
    type_ = o.type_;
    seed_ = o.seed_;
    public_ = o.public_;
    o.wipe();
  }
  return *this;
}

KeyPair::~KeyPair() { wipe(); }

void KeyPair::wipe() noexcept { OPENSSL_cleanse(seed_.data(), seed_.size()); }

std::string KeyPair::seed() const { return encode_seed(type_, seed_); }

std::string KeyPair::public_key() const { return encode(type_, public_); }

std::string KeyPair::private_key() const {
  std::array<uint8_t, kSeedSize + kPublicKeySize> priv{};
  std::copy(seed_.begin(), seed_.end(), priv.begin());
  std::copy(public_.begin(), public_.end(), priv.begin() + kSeedSize);
  std::string out = encode(Prefix::kPrivate, priv);
  OPENSSL_cleanse(priv.data(), priv.size());
  return out;
}

Signature KeyPair::sign(std::span<const uint8_t> data) const {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  Signature sig{};
  size_t len = sig.size();
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1 || len != sig.size()) {
    throw std::runtime_error("nkeys: OpenSSL cannot sign with Ed25519");
  }
  return sig;
}

bool KeyPair::verify(std::span<const uint8_t> data, std::span<const uint8_t> signature) const {
  return ed25519_verify(public_, data, signature);
}

std::optional<std::string> find_seed(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.size() < 2 || line[0] != 'S') continue;
    Prefix type{};
    Bytes seed;
    bool ok = !decode_seed(line, type, seed);
    OPENSSL_cleanse(seed.data(), seed.size());
    if (ok) return std::string(line);
  }
  return std::nullopt;
}

// ---- base64 of signatures ---------------------------------------------------------------

bool decode_signature_base64(std::string_view text, Bytes& out) {
  return base64_decode(text, url_table(), false, out) || base64_decode(text, std_table(), true, out);
}

std::string base64url_encode(std::span<const uint8_t> data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

}  // namespace pylon::nkeys
