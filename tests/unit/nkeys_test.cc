// src/nkeys against vectors that Debian's Go nkeys package made (testdata/nkeys/gen.go writes
// testdata/nkeys/vectors.txt): seeds, public and private keys, Ed25519 signatures, and each
// decoding error with Go's text.
#include "nkeys/nkeys.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace pylon::nkeys;

struct KeyVector {
  std::string type, raw_hex, seed, pub, priv, message, sig_b64;
};
struct DecodeVector {
  std::string input, decode_user, decode_seed, prefix;
  bool valid_public = false;
};

std::vector<uint8_t> from_hex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

// Go's %q of our inputs: only \n and plain ASCII occur.
std::string unquote(const std::string& q) {
  std::string out;
  for (size_t i = 1; i + 1 < q.size(); ++i) {
    if (q[i] == '\\' && q[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += q[i];
    }
  }
  return out;
}

struct Vectors {
  std::vector<KeyVector> keys;
  std::vector<DecodeVector> decodes;
};

const Vectors& vectors() {
  static const Vectors v = [] {
    Vectors out;
    std::ifstream in(std::string(PYLON_SOURCE_DIR) + "/tests/unit/testdata/nkeys/vectors.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("key ", 0) == 0) {
        std::istringstream ls(line.substr(4));
        KeyVector k;
        ls >> k.type >> k.raw_hex >> k.seed >> k.pub >> k.priv >> k.message >> k.sig_b64;
        out.keys.push_back(k);
      } else if (line.rfind("decode ", 0) == 0) {
        std::vector<std::string> f;
        std::string rest = line.substr(7);
        size_t pos = 0;
        while (true) {
          size_t tab = rest.find('\t', pos);
          f.push_back(rest.substr(pos, tab == std::string::npos ? std::string::npos : tab - pos));
          if (tab == std::string::npos) break;
          pos = tab + 1;
        }
        if (f.size() != 5) continue;
        out.decodes.push_back({unquote(f[0]), f[1], f[2], f[3], f[4] == "true"});
      }
    }
    return out;
  }();
  return v;
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Nkeys, VectorsFileIsThere) {
  EXPECT_EQ(vectors().keys.size(), 15u);
  EXPECT_EQ(vectors().decodes.size(), 20u);
}

TEST(Nkeys, EncodesSeedsAndKeysAsGoNkeys) {
  for (const auto& k : vectors().keys) {
    SCOPED_TRACE(k.seed);
    auto type = public_prefix_from_name(k.type);
    ASSERT_TRUE(type.has_value());
    auto raw = from_hex(k.raw_hex);
    EXPECT_EQ(encode_seed(*type, raw), k.seed);
    std::string err;
    auto kp = KeyPair::from_seed(k.seed, &err);
    ASSERT_TRUE(kp.has_value()) << err;
    EXPECT_EQ(kp->type(), *type);
    EXPECT_EQ(kp->seed(), k.seed);
    EXPECT_EQ(kp->public_key(), k.pub);
    EXPECT_EQ(kp->private_key(), k.priv);
    EXPECT_EQ(prefix_of(k.pub), *type);
    EXPECT_EQ(prefix_of(k.seed), Prefix::kSeed);
    EXPECT_TRUE(is_valid_public_key(k.pub));
    EXPECT_TRUE(is_valid_public_key(k.pub, *type));
    EXPECT_FALSE(is_valid_public_key(k.seed));
  }
}

TEST(Nkeys, SignsAsGoNkeysAndVerifiesGoSignatures) {
  for (const auto& k : vectors().keys) {
    SCOPED_TRACE(k.seed);
    auto kp = KeyPair::from_seed(k.seed);
    ASSERT_TRUE(kp.has_value());
    Signature sig = kp->sign(k.message);
    // Ed25519 is deterministic: the same signature as Go's.
    EXPECT_EQ(base64url_encode(sig), k.sig_b64);
    Bytes go_sig;
    ASSERT_TRUE(decode_signature_base64(k.sig_b64, go_sig));
    EXPECT_EQ(verify(k.pub, bytes_of(k.message), go_sig), std::nullopt);
    EXPECT_TRUE(kp->verify(bytes_of(k.message), go_sig));
    // Another message, a damaged signature: refused with nkeys' text.
    EXPECT_EQ(verify(k.pub, bytes_of(k.message + "x"), go_sig), std::string(kErrInvalidSignature));
    go_sig[10] ^= 1;
    EXPECT_EQ(verify(k.pub, bytes_of(k.message), go_sig), std::string(kErrInvalidSignature));
    EXPECT_FALSE(kp->verify(bytes_of(k.message), go_sig));
  }
}

TEST(Nkeys, DecodeErrorsAreGoNkeysErrors) {
  for (const auto& d : vectors().decodes) {
    SCOPED_TRACE("input \"" + d.input + "\"");
    Bytes payload;
    auto e1 = decode(Prefix::kUser, d.input, payload);
    EXPECT_EQ(e1.value_or("OK"), d.decode_user);
    Prefix t{};
    Bytes seed;
    auto e2 = decode_seed(d.input, t, seed);
    EXPECT_EQ(e2.value_or("OK"), d.decode_seed);
    EXPECT_EQ(to_string(prefix_of(d.input)), d.prefix);
    EXPECT_EQ(is_valid_public_key(d.input), d.valid_public);
  }
}

TEST(Nkeys, Crc16IsXmodem) {
  // The CRC-16/XMODEM check value of "123456789".
  EXPECT_EQ(crc16(bytes_of("123456789")), 0x31C3);
  EXPECT_EQ(crc16({}), 0);
}

TEST(Nkeys, Base32RoundTripsEveryLength) {
  for (size_t n = 0; n < 20; ++n) {
    Bytes data(n);
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 37 + n);
    std::string text = base32_encode(data);
    EXPECT_EQ(text.size(), (n * 8 + 4) / 5);
    Bytes back;
    ASSERT_EQ(base32_decode(text, back), std::nullopt);
    EXPECT_EQ(back, data);
  }
  // RFC 4648's vectors, without the padding.
  EXPECT_EQ(base32_encode(bytes_of("foobar")), "MZXW6YTBOI");
  EXPECT_EQ(base32_encode(bytes_of("f")), "MY");
}

TEST(Nkeys, SignatureBase64AcceptsUrlAndStdAsTheReference) {
  auto kp = KeyPair::create(Prefix::kUser);
  Signature sig = kp.sign("nonce");
  std::string url = base64url_encode(sig);
  // The std form: '+' '/' for '-' '_', padded to a multiple of 4.
  std::string std_form = url;
  for (auto& c : std_form) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (std_form.size() % 4) std_form += '=';
  Bytes a, b;
  ASSERT_TRUE(decode_signature_base64(url, a));
  ASSERT_TRUE(decode_signature_base64(std_form, b));
  EXPECT_EQ(a, Bytes(sig.begin(), sig.end()));
  EXPECT_EQ(b, a);
  Bytes c;
  EXPECT_FALSE(decode_signature_base64("not base64!", c));
  EXPECT_FALSE(decode_signature_base64(url.substr(0, url.size() - 1) + "=", c));  // URL form padded wrongly
  EXPECT_FALSE(decode_signature_base64("A===", c));
}

TEST(Nkeys, CreateMakesKeysOfEachPublicType) {
  for (const char* name : {"user", "account", "server", "operator", "cluster"}) {
    auto type = *public_prefix_from_name(name);
    auto kp = KeyPair::create(type);
    std::string pub = kp.public_key(), seed = kp.seed();
    EXPECT_EQ(pub.size(), 56u);
    EXPECT_EQ(seed.size(), 58u);
    EXPECT_EQ(seed[0], 'S');
    EXPECT_EQ(seed[1], pub[0]);
    EXPECT_TRUE(is_valid_public_key(pub, type));
    auto again = KeyPair::from_seed(seed);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->public_key(), pub);
  }
  EXPECT_EQ(KeyPair::create(Prefix::kUser).public_key()[0], 'U');
  EXPECT_EQ(KeyPair::create(Prefix::kAccount).public_key()[0], 'A');
  EXPECT_EQ(KeyPair::create(Prefix::kServer).public_key()[0], 'N');
  EXPECT_EQ(KeyPair::create(Prefix::kOperator).public_key()[0], 'O');
  EXPECT_EQ(KeyPair::create(Prefix::kCluster).public_key()[0], 'C');
  EXPECT_NE(KeyPair::create(Prefix::kUser).seed(), KeyPair::create(Prefix::kUser).seed());
  EXPECT_THROW(KeyPair::create(Prefix::kSeed), std::invalid_argument);
}

TEST(Nkeys, VerifyRefusesKeysThatAreNotPublicKeys) {
  const auto& k = vectors().keys.front();
  Bytes sig(kSignatureSize);
  // A seed is no public key; a key of 31 bytes is invalid (Go's Verify would panic on it).
  EXPECT_EQ(verify(k.seed, bytes_of("x"), sig), std::string(kErrInvalidPublicKey));
  Bytes short_key(31, 7);
  EXPECT_EQ(verify(encode(Prefix::kUser, short_key), bytes_of("x"), sig), std::string(kErrInvalidPublicKey));
  EXPECT_EQ(verify("UAAA", bytes_of("x"), sig), std::string(kErrInvalidEncoding));
  std::string err;
  EXPECT_FALSE(KeyPair::from_seed(k.pub, &err).has_value());
  EXPECT_EQ(err, kErrInvalidSeed);
}

}  // namespace
