// nkeys: the NATS Ed25519 key encoding (github.com/nats-io/nkeys), shared by the server
// (nkey users, its own N... id) and the client library (signing the server's nonce).
//
// A public key is base32 (RFC 4648 alphabet, no padding) of: one prefix byte (its type), the
// 32-byte Ed25519 public key, and a CRC16 (XMODEM) of those bytes, little-endian: 56
// characters, the first naming the type (U user, A account, N server, O operator, C cluster).
// A seed packs the seed prefix and the public type into two bytes so that it reads "S" + type
// letter ("SU...", 58 characters), then the 32-byte Ed25519 seed and the CRC.
//
// Decoding peer input never throws: errors come back as the reference's texts
// ("nkeys: invalid encoded key", Go's "illegal base32 data at input byte 3", ...).
// Ed25519 itself is OpenSSL's (EVP_PKEY_ED25519).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pylon::nkeys {

// The type byte in front of a key (nkeys' PrefixByte): the value is what is encoded, so the
// first base32 character names the type.
enum class Prefix : uint8_t {
  kSeed = 18 << 3,      // 'S'
  kPrivate = 15 << 3,   // 'P'
  kServer = 13 << 3,    // 'N'
  kCluster = 2 << 3,    // 'C'
  kOperator = 14 << 3,  // 'O'
  kAccount = 0,         // 'A'
  kUser = 20 << 3,      // 'U'
  kUnknown = 23 << 3,   // 'X'
};

// The reference's error texts (nkeys/main.go, crc16.go).
inline constexpr std::string_view kErrInvalidPrefixByte = "nkeys: invalid prefix byte";
inline constexpr std::string_view kErrInvalidPublicKey = "nkeys: invalid public key";
inline constexpr std::string_view kErrInvalidSeedLen = "nkeys: invalid seed length";
inline constexpr std::string_view kErrInvalidSeed = "nkeys: invalid seed";
inline constexpr std::string_view kErrInvalidEncoding = "nkeys: invalid encoded key";
inline constexpr std::string_view kErrInvalidSignature = "nkeys: signature verification failed";
inline constexpr std::string_view kErrInvalidChecksum = "nkeys: invalid checksum";

inline constexpr size_t kSeedSize = 32;       // ed25519.SeedSize
inline constexpr size_t kPublicKeySize = 32;  // ed25519.PublicKeySize
inline constexpr size_t kSignatureSize = 64;  // ed25519.SignatureSize

using Bytes = std::vector<uint8_t>;
using Signature = std::array<uint8_t, kSignatureSize>;

// "user", "account", ... as PrefixByte.String(); "unknown" for anything else.
std::string_view to_string(Prefix p) noexcept;
// The public types by name ("user", "account", "server", "operator", "cluster").
std::optional<Prefix> public_prefix_from_name(std::string_view name) noexcept;
// One of the five public types (checkValidPublicPrefixByte).
bool is_public_prefix(Prefix p) noexcept;

// CRC-16/XMODEM (polynomial 0x1021, initial 0), as nkeys' crc16.go.
uint16_t crc16(std::span<const uint8_t> data) noexcept;

// Base32, standard alphabet, no padding (Go's base32.StdEncoding.WithPadding(NoPadding)).
std::string base32_encode(std::span<const uint8_t> data);
// As Go's Encoding.Decode for that encoding: '\r' and '\n' are skipped; the error is Go's
// "illegal base32 data at input byte N".
std::optional<std::string> base32_decode(std::string_view text, Bytes& out);

// Encode(prefix, src): prefix byte + src + CRC, base32. The prefix must be a valid one
// (public, seed or private); throws std::invalid_argument otherwise (a programming error).
std::string encode(Prefix prefix, std::span<const uint8_t> src);
// EncodeSeed(public_type, 32-byte seed). Throws std::invalid_argument on a non-public type or
// a seed of another size.
std::string encode_seed(Prefix public_type, std::span<const uint8_t> seed);

// decode(): base32, length, checksum; `raw` gets the bytes without the CRC (prefix first).
std::optional<std::string> decode_raw(std::string_view text, Bytes& raw);
// Decode(expected, src): the payload after a prefix that must be `expected`.
std::optional<std::string> decode(Prefix expected, std::string_view text, Bytes& payload);
// DecodeSeed(src): the public type and the raw seed bytes. Unlike nkeys 0.3 (whose
// ed25519.GenerateKey then fails on a short read), a seed must hold 32 bytes.
std::optional<std::string> decode_seed(std::string_view text, Prefix& public_type, Bytes& seed);
// Prefix(src): the type of an encoded key or seed (kSeed for any seed), kUnknown if invalid.
Prefix prefix_of(std::string_view text) noexcept;
// IsValidPublicKey / IsValidPublicUserKey ... : decodes with the type, and holds 32 bytes.
bool is_valid_public_key(std::string_view text) noexcept;
bool is_valid_public_key(std::string_view text, Prefix type) noexcept;

// Ed25519 signature check of `data` by the public key `public_key` (FromPublicKey + Verify):
// nullopt when it verifies, else the reference's error (an invalid key's, or
// kErrInvalidSignature).
std::optional<std::string> verify(std::string_view public_key, std::span<const uint8_t> data,
                                  std::span<const uint8_t> signature);

// A key pair made from a seed (nkeys' kp). The seed's bytes are wiped when it goes.
class KeyPair {
 public:
  // A new random key pair of a public type (CreatePair; OpenSSL's RAND_bytes). Throws
  // std::invalid_argument on a non-public type, std::runtime_error if no randomness.
  static KeyPair create(Prefix type);
  // FromSeed: nullopt and `error` set when the text is not a valid seed.
  static std::optional<KeyPair> from_seed(std::string_view seed, std::string* error = nullptr);

  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  KeyPair(KeyPair&& o) noexcept;
  KeyPair& operator=(KeyPair&& o) noexcept;
  ~KeyPair();

  Prefix type() const noexcept { return type_; }
  std::string seed() const;        // "S" + type letter + ...
  std::string public_key() const;  // type letter + ...
  std::string private_key() const; // "P..." (the 64-byte Ed25519 private key: seed + public)
  Signature sign(std::span<const uint8_t> data) const;
  Signature sign(std::string_view data) const {
    return sign(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  bool verify(std::span<const uint8_t> data, std::span<const uint8_t> signature) const;

 private:
  KeyPair(Prefix type, std::span<const uint8_t> seed);
  void wipe() noexcept;

  Prefix type_ = Prefix::kUser;
  std::array<uint8_t, kSeedSize> seed_{};
  std::array<uint8_t, kPublicKeySize> public_{};
};

// The seed in a seed file's text (as `nk -inkey` and nats.go's NkeyOptionFromSeed read one): the
// first line that, trimmed of blanks, is a valid seed. A plain seed file ("SU...\n") and a
// decorated .nk/.creds file (the seed between "-----BEGIN USER NKEY SEED-----" lines) both
// work. nullopt when there is none.
std::optional<std::string> find_seed(std::string_view text);

// Base64 as the reference reads a CONNECT's "sig": URL-safe without padding first, standard
// (with padding) as the fallback, as Go's RawURLEncoding / StdEncoding.DecodeString (strict
// about neither trailing bits nor '\r'/'\n', which Go skips). False when neither decodes.
bool decode_signature_base64(std::string_view text, Bytes& out);
// URL-safe base64 without padding (what nats.go sends).
std::string base64url_encode(std::span<const uint8_t> data);

}  // namespace pylon::nkeys
