// Stream imports as the reference implements them: shadow subscriptions. When a client of
// the importing account subscribes to a subject the import's local subjects collide with,
// a shadow of that subscription goes into the exporting account's index on the import's
// source subject. A message published in the exporter (locally or from a route) matches the
// shadow like any subscription and is delivered straight to the importing client, under the
// subject the import maps it to. So a message crosses accounts once, on the node of the
// importing client, and a route carries it in the exporter's account only (the shadow's
// interest is the exporter's RS+) — as nats-server does, so mixed clusters agree.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace pylon::server {

class Account;

// One stream import of an account, resolved at configuration.
struct StreamImport {
  std::weak_ptr<Account> from;  // weak: two accounts may import from each other
  std::string source;           // the exporter's subject (pattern)
  std::string to;               // the local pattern: `to`, `prefix.source`, or source
  std::string prefix;           // with its trailing '.', or empty
};

// What a shadow subscription maps: how a subject of the exporter becomes the importer's,
// and the client's own subscription subject, which the mapped subject must still match.
struct SubjectMapping {
  std::string source, to, prefix;
  std::string client_subject;
};

// The importer's subject for `published` (a literal subject matching `m.source`).
std::string map_subject(const SubjectMapping& m, std::string_view published);

}  // namespace pylon::server
