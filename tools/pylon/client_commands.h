// `pylon pub`, `pylon sub`, `pylon req`, `pylon reply`: the NATS client commands, built
// on the client library (pylon::Connection). Each registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace pylon::tools {

void add_pub(CLI::App& app, int& rc);
void add_sub(CLI::App& app, int& rc);
void add_req(CLI::App& app, int& rc);
void add_reply(CLI::App& app, int& rc);

}  // namespace pylon::tools
