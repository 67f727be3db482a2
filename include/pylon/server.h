// Embedding a Pylon server in a C++ program (tests, tools, applications):
//
//   pylon::Options opts;
//   opts.port = -1;                 // any free port
//   pylon::Server server(opts);
//   server.start();                 // throws on failure (e.g. port in use)
//   connect to server.client_url() ...
//   server.shutdown();              // or let the destructor do it
#pragma once

#include <memory>
#include <string>

#include "pylon/options.h"

namespace pylon {

namespace server {
class Server;
class Logger;
}  // namespace server

class Server {
 public:
  explicit Server(Options opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  void shutdown();
  void wait();

  int port() const;
  std::string client_url() const;
  const std::string& id() const;
  // The server's log (embedders may redirect it with log().open(path)).
  server::Logger& log();
  // The implementation, for code inside Pylon (monitoring, tests).
  server::Server& core() { return *core_; }

 private:
  std::unique_ptr<server::Server> core_;
};

}  // namespace pylon
