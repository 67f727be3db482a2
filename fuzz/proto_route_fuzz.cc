// The route and leafnode protocol parsers (RS+/RS-/RMSG/HMSG/LS+/LS-/LMSG/INFO/CONNECT; on a
// leaf connection LS+/LS-/LMSG/HMSG without an account) at any split: see proto_split.h. Each
// input goes through both roles: they share the op-name states and the message-argument code.
#include "proto_split.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  pylon::fuzz::check_split(pylon::proto::Role::kServerOfRoute, in);
  pylon::fuzz::check_split(pylon::proto::Role::kServerOfLeaf, in);
  return 0;
}
