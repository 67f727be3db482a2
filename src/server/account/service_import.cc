#include "server/account/service_import.h"

#include "proto/subject.h"
#include "server/account/account.h"
#include "server/account/stream_import.h"

namespace pylon::server {

bool ServiceImportSubscriber::deliver(Server& server, EventLoop& loop, const Origin& origin, const Message& msg,
                                      bool from_route) {
  // The node the requester is on has applied the import already (see the header).
  if (from_route) return false;
  auto importer = importer_.lock();
  auto exporter = exporter_.lock();
  if (!importer || !exporter) return false;
  // The local subject maps to the exported one as a stream import maps the other way.
  std::string subject = map_subject(SubjectMapping{local_, exported_, "", ""}, msg.subject);
  std::string reply;
  if (!msg.reply.empty()) reply = exporter->add_response(server, importer, msg.reply, type_, threshold_);
  route_message(server, *exporter, loop, origin, Message{subject, reply, msg.header_len, msg.payload});
  // Taken, whether or not the exporter has a responder: as the reference, whose service import
  // counts as interest, a requester hears no "no responders" from an import.
  return true;
}

bool ResponseSubscriber::deliver(Server& server, EventLoop& loop, const Origin& origin, const Message& msg,
                                 bool /*from_route*/) {
  auto exporter = exporter_.lock();
  if (!exporter) return false;
  // Stream and chunked responses behave alike, as in nats-server 2.9 (its processServiceImport
  // tests only for Singleton): both keep the mapping open until response_threshold passes
  // without a response, or until an empty message (no headers, no payload) ends it.
  bool last = msg.header_len < 0 && msg.payload.empty();
  auto back = exporter->take_response(msg.subject, last);
  if (!back.importer) return false;
  bool delivered = route_message(server, *back.importer, loop, origin, Message{back.reply, {}, msg.header_len, msg.payload});
  if (!delivered && !last) exporter->drop_response(msg.subject);
  return delivered;
}

}  // namespace pylon::server
