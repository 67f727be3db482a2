// Writers for each protocol operation: they append the operation's exact bytes to a
// caller-owned buffer (an outbound buffer), reserving the room once, so appending an
// op costs at most one growth of the buffer and no temporary strings.
//
// Two levels:
//  - append_*_line(): the control line only (ending in "\r\n"), for the delivery hot path
//    where the payload is appended separately (append_payload) or written with writev;
//  - append_msg(), append_pub(), ...: the whole operation, payload and final "\r\n" included.
// The caller passes valid subjects/tokens; nothing is checked or escaped here.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pylon::proto {

inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr std::string_view kPingOp = "PING\r\n";
inline constexpr std::string_view kPongOp = "PONG\r\n";
inline constexpr std::string_view kOkOp = "+OK\r\n";

// Queue group names of a routed message, in the order they go on the wire.
using QueueList = std::span<const std::string_view>;

// ---- Control lines ---------------------------------------------------------------

// "MSG <subject> <sid> [reply] <size>\r\n" (to a client)
void append_msg_line(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                     int64_t size);
// "HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n" (to a client)
void append_hmsg_line(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                      int64_t hdr_len, int64_t total_len);
// "RMSG <account> <subject> <route-part> <size>\r\n" (to a route), where route-part is
// "" (no reply, no queues), "<reply>", "+ <reply> <q1> <q2>..." or "| <q1> <q2>...".
void append_rmsg_line(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                      QueueList queues, int64_t size);
// "HMSG <account> <subject> <route-part> <hdr_len> <total_len>\r\n" (to a route)
void append_routed_hmsg_line(std::string& buf, std::string_view account, std::string_view subject,
                             std::string_view reply, QueueList queues, int64_t hdr_len, int64_t total_len);
// "PUB <subject> [reply] <size>\r\n" (from a client)
void append_pub_line(std::string& buf, std::string_view subject, std::string_view reply, int64_t size);
// "HPUB <subject> [reply] <hdr_len> <total_len>\r\n" (from a client)
void append_hpub_line(std::string& buf, std::string_view subject, std::string_view reply, int64_t hdr_len,
                      int64_t total_len);
// "<payload>\r\n": the payload after any of the lines above.
void append_payload(std::string& buf, std::string_view payload);

// ---- Whole operations --------------------------------------------------------------

// A message to a client.
void append_msg(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                std::string_view payload);
// A message with headers to a client; `payload` is headers then body, hdr_len its header part.
void append_hmsg(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                 int64_t hdr_len, std::string_view payload);
// A message to a route.
void append_rmsg(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                 QueueList queues, std::string_view payload);
// A message with headers to a route.
void append_routed_hmsg(std::string& buf, std::string_view account, std::string_view subject,
                        std::string_view reply, QueueList queues, int64_t hdr_len, std::string_view payload);
// A client's publish.
void append_pub(std::string& buf, std::string_view subject, std::string_view reply, std::string_view payload);
void append_hpub(std::string& buf, std::string_view subject, std::string_view reply, int64_t hdr_len,
                 std::string_view payload);
// "SUB <subject> [queue] <sid>\r\n"
void append_sub(std::string& buf, std::string_view subject, std::string_view queue, std::string_view sid);
// "UNSUB <sid>[ <max_msgs>]\r\n"; max_msgs < 0 leaves it out.
void append_unsub(std::string& buf, std::string_view sid, int64_t max_msgs = -1);
// "RS+ <account> <subject>\r\n", or with a queue "RS+ <account> <subject> <queue> <weight>\r\n".
void append_rs_sub(std::string& buf, std::string_view account, std::string_view subject, std::string_view queue,
                   int32_t weight);
// "RS- <account> <subject>[ <queue>]\r\n"
void append_rs_unsub(std::string& buf, std::string_view account, std::string_view subject,
                     std::string_view queue);
// To a leaf connection (bound to one account, so no account is named): "LMSG <subject>
// <route-part> <size>\r\n<payload>\r\n", and with headers "HMSG <subject> <route-part>
// <hdr_len> <total_len>\r\n...", route-part as for RMSG.
void append_lmsg(std::string& buf, std::string_view subject, std::string_view reply, QueueList queues,
                 std::string_view payload);
void append_leaf_hmsg(std::string& buf, std::string_view subject, std::string_view reply, QueueList queues,
                      int64_t hdr_len, std::string_view payload);
// "LS+ <subject>\r\n", or "LS+ <subject> <queue> <weight>\r\n"; "LS- <subject>[ <queue>]\r\n".
void append_ls_sub(std::string& buf, std::string_view subject, std::string_view queue, int32_t weight);
void append_ls_unsub(std::string& buf, std::string_view subject, std::string_view queue);
// "-ERR '<text>'\r\n"
void append_err(std::string& buf, std::string_view text);
// "INFO <json>\r\n" and "CONNECT <json>\r\n"
void append_info(std::string& buf, std::string_view json);
void append_connect(std::string& buf, std::string_view json);

}  // namespace pylon::proto
