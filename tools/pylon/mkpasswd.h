// `pylon mkpasswd`: bcrypt hashes for config files, like the reference's mkpasswd tool.
#pragma once

#include <CLI/CLI.hpp>

namespace pylon::tools {

void add_mkpasswd(CLI::App& app, int& rc);

}  // namespace pylon::tools
