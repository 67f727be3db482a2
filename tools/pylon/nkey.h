// `pylon nkey`: nkeys for config files and clients, as the reference's `nk` tool makes them
// (gen, pub, sign, verify).
#pragma once

#include <CLI/CLI.hpp>

namespace pylon::tools {

void add_nkey(CLI::App& app, int& rc);

}  // namespace pylon::tools
