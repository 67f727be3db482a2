#include "nkey.h"

#include <openssl/crypto.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "nkeys/nkeys.h"

namespace pylon::tools {

namespace {

struct NkeyOptions {
  std::string type = "user";
  std::string seed;       // pub, sign: a seed, or a file holding one
  std::string file;       // sign, verify: the data
  std::string key;        // verify: a public key or seed, or a file holding one
  std::string sig_file;   // verify: the signature (std base64, as nk writes it)
};

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// A seed given as itself ("SU...") or as a file holding one (the first line that is one).
// Throws std::runtime_error with what went wrong.
nkeys::KeyPair key_pair(const std::string& arg) {
  std::string text;
  if (arg.size() > 1 && arg[0] == 'S' && nkeys::prefix_of(arg) == nkeys::Prefix::kSeed) {
    text = arg;
  } else {
    std::string contents;
    if (!read_file(arg, contents)) throw std::runtime_error(arg + ": not a seed, and no file of that name can be read");
    auto seed = nkeys::find_seed(contents);
    OPENSSL_cleanse(contents.data(), contents.size());
    if (!seed) throw std::runtime_error(arg + ": no seed in it");
    text = std::move(*seed);
  }
  std::string err;
  auto kp = nkeys::KeyPair::from_seed(text, &err);
  OPENSSL_cleanse(text.data(), text.size());
  if (!kp) throw std::runtime_error(err);
  return std::move(*kp);
}

int guarded(const char* what, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << "pylon nkey " << what << ": " << e.what() << "\n";
    return 1;
  }
}

int gen(const NkeyOptions& o) {
  return guarded("gen", [&] {
    auto type = nkeys::public_prefix_from_name(o.type);
    auto kp = nkeys::KeyPair::create(*type);  // the flag's check lets only the five names through
    std::string seed = kp.seed();
    std::cout << seed << "\n" << kp.public_key() << "\n";
    OPENSSL_cleanse(seed.data(), seed.size());
    return 0;
  });
}

int pub(const NkeyOptions& o) {
  return guarded("pub", [&] {
    std::cout << key_pair(o.seed).public_key() << "\n";
    return 0;
  });
}

int sign(const NkeyOptions& o) {
  return guarded("sign", [&] {
    auto kp = key_pair(o.seed);
    std::string data;
    if (!read_file(o.file, data)) throw std::runtime_error(o.file + ": cannot be read");
    auto sig = kp.sign(data);
    // As `nk -sign`: standard base64 with padding (the URL alphabet's two letters swapped).
    std::string url = nkeys::base64url_encode(sig), out;
    for (char c : url) out += c == '-' ? '+' : c == '_' ? '/' : c;
    while (out.size() % 4) out += '=';
    std::cout << out << "\n";
    return 0;
  });
}

int verify(const NkeyOptions& o) {
  return guarded("verify", [&] {
    std::string key = o.key;
    if (!nkeys::is_valid_public_key(key)) {
      if (nkeys::prefix_of(key) == nkeys::Prefix::kSeed) {
        key = key_pair(key).public_key();
      } else {
        std::string contents;
        if (!read_file(o.key, contents)) throw std::runtime_error(o.key + ": not a key, and no file of that name can be read");
        key.clear();
        for (size_t at = 0; at < contents.size();) {
          size_t nl = contents.find('\n', at);
          std::string line = contents.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
          while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
          if (nkeys::is_valid_public_key(line)) {
            key = line;
            break;
          }
          if (nl == std::string::npos) break;
          at = nl + 1;
        }
        if (key.empty()) key = key_pair(o.key).public_key();  // a seed file
      }
    }
    std::string data, sig_text;
    if (!read_file(o.file, data)) throw std::runtime_error(o.file + ": cannot be read");
    if (!read_file(o.sig_file, sig_text)) throw std::runtime_error(o.sig_file + ": cannot be read");
    while (!sig_text.empty() && (sig_text.back() == '\n' || sig_text.back() == '\r')) sig_text.pop_back();
    nkeys::Bytes sig;
    if (!nkeys::decode_signature_base64(sig_text, sig)) throw std::runtime_error(o.sig_file + ": not base64");
    auto data_bytes = std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    if (auto e = nkeys::verify(key, data_bytes, sig)) throw std::runtime_error(*e);
    std::cout << "Verified OK\n";
    return 0;
  });
}

}  // namespace

void add_nkey(CLI::App& app, int& rc) {
  auto o = std::make_shared<NkeyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "nkey",
      "nkeys (Ed25519 keys in the NATS encoding), as the reference's `nk` tool makes them: a seed\n"
      "(\"SU...\", secret: the client keeps it) and its public key (\"U...\", for the server's\n"
      "`authorization { users: [{nkey: U...}] }`).");
  cmd->require_subcommand(1);

  CLI::App* g = cmd->add_subcommand("gen", "Print a new seed, then its public key, one a line (as `nk -gen user -pubout`)");
  g->add_option("--type", o->type, "Key type")
      ->capture_default_str()
      ->check(CLI::IsMember({"user", "account", "server", "operator", "cluster"}));
  g->callback([o, &rc] { rc = gen(*o); });

  CLI::App* p = cmd->add_subcommand("pub", "Print the public key of a seed (as `nk -inkey <file> -pubout`)");
  p->add_option("seed", o->seed,
                "The seed, or a file holding it (a file keeps the seed out of the process list)")
      ->required();
  p->callback([o, &rc] { rc = pub(*o); });

  CLI::App* s = cmd->add_subcommand("sign", "Sign a file's contents; prints the signature in base64 (as `nk -sign`)");
  s->add_option("file", o->file, "The file to sign")->required();
  s->add_option("--seed", o->seed, "The seed, or a file holding it")->required();
  s->callback([o, &rc] { rc = sign(*o); });

  CLI::App* v = cmd->add_subcommand("verify", "Check a signature of a file's contents (as `nk -verify`); exit 1 if it does not verify");
  v->add_option("file", o->file, "The signed file")->required();
  v->add_option("--key", o->key, "The public key or seed, or a file holding one")->required();
  v->add_option("--sig", o->sig_file, "A file holding the signature (base64, as `pylon nkey sign` prints it)")->required();
  v->callback([o, &rc] { rc = verify(*o); });
}

}  // namespace pylon::tools
