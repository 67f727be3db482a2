// The route protocol parser (RS+/RS-/RMSG/HMSG/LS+/LS-/LMSG/INFO/CONNECT) at any split: see
// proto_split.h.
#include "proto_split.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pylon::fuzz::check_split(pylon::proto::Role::kServerOfRoute,
                           std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
