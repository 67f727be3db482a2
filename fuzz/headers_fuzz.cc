// The NATS/1.0 header block reader of the client library (src/client/headers.cc): any bytes
// decode or are refused without a crash, and a block it decodes, written back by
// encode_headers, decodes to the same headers and status.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "client/headers_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pylon::client;
  const std::string_view block(reinterpret_cast<const char*>(data), size);
  pylon::Message msg;
  if (!decode_headers(block, msg)) return 0;
  for (const auto& [k, v] : msg.headers) {
    // Only what the wire can carry is written back (publish refuses the rest).
    if (!valid_header_key(k) || !valid_header_value(v)) return 0;
  }
  if (!valid_header_value(msg.status_description)) return 0;
  std::string again;
  encode_headers(again, msg.headers, msg.status, msg.status != 0 ? msg.status_description : std::string());
  if (again.size() != encoded_headers_size(msg.headers, msg.status, msg.status != 0 ? msg.status_description : "")) {
    std::fprintf(stderr, "encoded_headers_size disagrees with encode_headers\n");
    std::abort();
  }
  pylon::Message back;
  if (!decode_headers(again, back) || back.headers != msg.headers || back.status != msg.status ||
      (msg.status != 0 && back.status_description != msg.status_description)) {
    std::fprintf(stderr, "header block does not survive encode+decode: %s\n", again.c_str());
    std::abort();
  }
  return 0;
}
