// Options from a config file in the reference server's format (server/config/ reads the
// syntax; this file knows the keys), and the one place where options are checked.
#pragma once

#include <string>
#include <vector>

#include "pylon/options.h"

namespace pylon::server {

// Reads `path` into `opts`. Returns warnings (e.g. unknown keys) for the log.
// Throws config::ConfigError (file:line:col: message) on a broken file or a bad value.
std::vector<std::string> load_config_file(const std::string& path, Options& opts);

// no_auth_user names a configured user (the reference's validateNoAuthUser). Throws
// std::invalid_argument in the reference's words.
void validate_no_auth_user(const Options& opts);

// Checks the options as a whole (options_check.cc). Throws std::invalid_argument with a
// message for the user.
void validate_options(const Options& opts);

}  // namespace pylon::server
