#include "server/client/connect_json.h"

namespace pylon::server {

namespace {
using proto::gojson::Field;
using proto::gojson::Type;

// client.go's ClientOpts, in its field order (a key that folds onto two names takes the first).
enum ClientOptsField : size_t {
  kEcho, kVerbose, kPedantic, kTlsRequired, kNkey, kJwt, kSig, kAuthToken, kUser, kPass, kName, kLang,
  kVersion, kProtocol, kAccount, kNewAccount, kHeaders, kNoResponders, kImport, kExport,
};
constexpr Field kClientOptsFields[] = {
    {"echo", Type::kBool},         {"verbose", Type::kBool},        {"pedantic", Type::kBool},
    {"tls_required", Type::kBool}, {"nkey", Type::kString},         {"jwt", Type::kString},
    {"sig", Type::kString},        {"auth_token", Type::kString},   {"user", Type::kString},
    {"pass", Type::kString},       {"name", Type::kString},         {"lang", Type::kString},
    {"version", Type::kString},    {"protocol", Type::kInt},        {"account", Type::kString},
    {"new_account", Type::kBool},  {"headers", Type::kBool},        {"no_responders", Type::kBool},
    {"import", Type::kSubjectPermission}, {"export", Type::kSubjectPermission},
};
constexpr proto::gojson::StructType kClientOpts{"ClientOpts", "server.ClientOpts", kClientOptsFields};
}  // namespace

std::optional<std::string> decode_client_connect(std::string_view json, ClientConnect& out) {
  return proto::gojson::unmarshal(json, kClientOpts, [&](size_t f, const proto::gojson::Value& v) {
    switch (static_cast<ClientOptsField>(f)) {
      case kEcho: out.echo = v.b; break;
      case kVerbose: out.verbose = v.b; break;
      case kPedantic: out.pedantic = v.b; break;
      case kTlsRequired: out.tls_required = v.b; break;
      case kNkey: out.nkey = v.s; break;
      case kJwt: out.jwt = v.s; break;
      case kSig: out.sig = v.s; break;
      case kAuthToken: out.auth_token = v.s; break;
      case kUser: out.user = v.s; break;
      case kPass: out.pass = v.s; break;
      case kName: out.name = v.s; break;
      case kLang: out.lang = v.s; break;
      case kVersion: out.version = v.s; break;
      case kProtocol: out.protocol = v.i; break;
      case kAccount: out.account = v.s; break;
      case kNewAccount: out.new_account = v.b; break;
      case kHeaders: out.headers = v.b; break;
      case kNoResponders: out.no_responders = v.b; break;
      case kImport:
        if (v.null) out.import_perms.reset(); else out.import_perms = v.perm;
        break;
      case kExport:
        if (v.null) out.export_perms.reset(); else out.export_perms = v.perm;
        break;
    }
  });
}

}  // namespace pylon::server
