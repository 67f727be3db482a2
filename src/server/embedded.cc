// pylon::Server: the public face of server::Server (include/pylon/server.h).
#include "pylon/server.h"

#include "server/server.h"

namespace pylon {

Server::Server(Options opts) : core_(std::make_unique<server::Server>(std::move(opts))) {}
Server::~Server() = default;
void Server::start() { core_->start(); }
void Server::shutdown() { core_->shutdown(); }
void Server::wait() { core_->wait(); }
int Server::port() const { return core_->port(); }
std::string Server::client_url() const { return core_->client_url(); }
const std::string& Server::id() const { return core_->id(); }
server::Logger& Server::log() { return core_->log(); }

}  // namespace pylon
