// One connection's WebSocket layer: the transport between the socket (or TLS) and the client
// protocol, as TLS is the layer under it. Owned by its Connection and used only on that
// connection's loop (no lock): the core hands it what it reads and what it is about to
// write (core/connection.h).
//
// Lifecycle: upgrade (the HTTP request, then the 101 or an HTTP error, both unframed) ->
// framed (input decoded into the protocol's bytes; output framed as binary messages, pongs
// and the one close frame among them) -> closed (the close frame sent, or the peer's echoed).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "server/core/close_reason.h"
#include "websocket/frame.h"
#include "server/websocket/upgrade.h"

namespace pylon::server::websocket {

class Session {
 public:
  explicit Session(std::shared_ptr<const Settings> settings);

  bool upgraded() const noexcept { return upgraded_; }
  const Settings& settings() const noexcept { return *settings_; }
  const Upgrade& upgrade() const noexcept { return upgrade_; }

  // Before the upgrade: the request's bytes. The answer (101 or an HTTP error) is queued
  // unframed; on kAccepted the session is framed from then on.
  const Upgrade& on_request(std::string_view data);
  // After the upgrade: decodes frames (unmasking in place); pings are answered here.
  FrameReader::Error decode(char* data, size_t n, FrameSink& sink);

  // Queues a pong for a ping's payload.
  void queue_pong(std::string_view payload);
  // Queues the close frame, once: later calls are ignored. It is written after every byte
  // the protocol queued before it.
  void queue_close(uint16_t status, std::string_view body);
  bool close_queued() const noexcept { return close_queued_; }

  // Output the session owns and the protocol did not queue (the 101, pongs, the close).
  bool has_output() const noexcept { return !control_out_.empty() || !close_out_.empty(); }
  // Builds what goes on the wire from the protocol's `app` bytes: control frames first, then
  // `app` framed (compressed when negotiated), then the close frame if queued. Appends to `out`.
  void take_output(std::string_view app, std::string& out);
  // The same, without copying the protocol's bytes (`app_size` of them, which may lie in many
  // buffers), when they go as one uncompressed frame (no compression for them, no
  // browser-sized frames): appends to `head` the control frames and the frame's header, keeps
  // the close frame if one is queued as in_place_tail(), and returns true; the caller sends
  // head, the bytes, tail in that order, in one write. False, touching nothing but in_place(),
  // when the bytes must be copied (take_output). Called once per write batch.
  bool frame_in_place(size_t app_size, std::string& head);
  // Whether the last frame_in_place() framed in place, and what goes after `app` then (valid
  // until the next frame_in_place()).
  bool in_place() const noexcept { return in_place_; }
  std::string_view in_place_tail() const noexcept { return close_sending_; }

 private:
  std::shared_ptr<const Settings> settings_;
  UpgradeRequest request_;
  Upgrade upgrade_;
  bool upgraded_ = false;
  bool close_queued_ = false;
  bool in_place_ = false;
  std::unique_ptr<FrameReader> reader_;
  std::unique_ptr<Deflater> deflater_;  // when compression was negotiated
  std::string control_out_;             // framed: the 101 response, pongs
  std::string close_out_;               // the close frame, sent last
  std::string close_sending_;           // the close frame of frame_in_place's write
};

// The reference's wsEnqueueCloseMessage: the close status for why a connection closes.
uint16_t close_status_for(CloseReason reason);

}  // namespace pylon::server::websocket
