// The client protocol parser at any split (see proto_split.h), from both ends of a client
// connection: a server reading a client, and the client library reading a server.
#include "proto_split.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  pylon::fuzz::check_split(pylon::proto::Role::kServerOfClient, stream);
  pylon::fuzz::check_split(pylon::proto::Role::kClient, stream);
  return 0;
}
