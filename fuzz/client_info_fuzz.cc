// The server INFO as the client library reads it (src/client/handshake_json.cc): a hostile or
// broken server may send any bytes. Refusing them is a pylon::Exception (the connect fails
// with a protocol error); anything else thrown, or undefined behaviour on a number that does
// not fit (UBSan), is a finding.
#include <cstdint>
#include <string_view>

#include "client/handshake_json.h"
#include "pylon/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    bool tls = false;
    pylon::client::parse_info(json, &tls);
  } catch (const pylon::Exception&) {
    // the designed answer to a bad INFO
  }
  return 0;
}
