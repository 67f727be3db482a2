// Service imports, as the reference maps them (accounts.go: addServiceImport, processServiceImport,
// addRespServiceImport). Account B imports service "help" of A as "a.help":
//  1. B's index holds an internal subscription on "a.help" (ServiceImportSubscriber). A request a
//     client of B publishes there is published again in A on "help", its reply subject replaced
//     by a new "_R_.<prefix>.<token>" of A's, remembered with B's original reply.
//  2. A's index holds one internal subscription per server on "_R_.<prefix>.>"
//     (ResponseSubscriber). A response published there goes back into B on the original reply
//     subject: once for a singleton service; for stream and chunked ones (alike, as in 2.9),
//     until no response came for response_threshold, or until an empty message ends them, or
//     until a response finds nobody to deliver to.
// The request subscription is not announced to routes (every node applies its own imports; a
// route would otherwise carry the request twice) and ignores route messages; the response one
// is announced (RS+ A _R_.<prefix>.>), so a responder on any node of the cluster — Pylon or
// nats-server — answers into the node that holds the mapping.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "pylon/options.h"
#include "server/router.h"

namespace pylon::server {

class Account;

class ServiceImportSubscriber final : public InternalSubscriber {
 public:
  ServiceImportSubscriber(std::weak_ptr<Account> importer, std::weak_ptr<Account> exporter, std::string local,
                          std::string exported, AccountExport::ResponseType type, Duration threshold)
      : importer_(std::move(importer)),
        exporter_(std::move(exporter)),
        local_(std::move(local)),
        exported_(std::move(exported)),
        type_(type),
        threshold_(threshold) {}
  bool deliver(Server& server, EventLoop& loop, const Origin& origin, const Message& msg, bool from_route) override;

 private:
  std::weak_ptr<Account> importer_, exporter_;  // weak: accounts own their indexes, which hold us
  std::string local_, exported_;
  AccountExport::ResponseType type_;
  Duration threshold_;
};

class ResponseSubscriber final : public InternalSubscriber {
 public:
  explicit ResponseSubscriber(std::weak_ptr<Account> exporter) : exporter_(std::move(exporter)) {}
  bool deliver(Server& server, EventLoop& loop, const Origin& origin, const Message& msg, bool from_route) override;

 private:
  std::weak_ptr<Account> exporter_;
};

}  // namespace pylon::server
