// pylon::Connection: the public face of client::Core.
#include "pylon/connection.h"

#include "client/core.h"

namespace pylon {

const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::kDisconnected: return "disconnected";
    case Status::kConnecting: return "connecting";
    case Status::kConnected: return "connected";
    case Status::kReconnecting: return "reconnecting";
    case Status::kDrainingSubs: return "draining subscriptions";
    case Status::kDrainingPubs: return "draining publishes";
    case Status::kClosed: return "closed";
  }
  return "unknown";
}

Connection::Connection(ClientOptions options) : core_(std::make_shared<client::Core>(std::move(options), nullptr)) {
  core_->start(this);
}

Connection::Connection(boost::asio::io_context& io, ClientOptions options)
    : core_(std::make_shared<client::Core>(std::move(options), &io)) {
  core_->start(this);
}

Connection::~Connection() { core_->shutdown(); }

void Connection::connect() { core_->connect(); }
void Connection::close() { core_->close(); }
void Connection::drain(std::chrono::milliseconds timeout) {
  core_->drain(timeout.count() == 0 ? core_->options().drain_timeout : timeout);
}

void Connection::publish(std::string_view subject, std::string_view data) {
  core_->publish(subject, {}, nullptr, 0, {}, data);
}

void Connection::publish(std::string_view subject, std::string_view data, const Headers& headers) {
  core_->publish(subject, {}, &headers, 0, {}, data);
}

void Connection::publish_request(std::string_view subject, std::string_view reply, std::string_view data) {
  core_->publish(subject, reply, nullptr, 0, {}, data);
}

void Connection::publish(const Message& msg) {
  core_->publish(msg.subject, msg.reply, &msg.headers, msg.status, msg.status_description, msg.data);
}

void Connection::flush(std::chrono::milliseconds timeout) { core_->flush(timeout); }

Subscription Connection::subscribe(std::string_view subject, MessageHandler handler) {
  return core_->subscribe(subject, {}, std::move(handler), false);
}

Subscription Connection::queue_subscribe(std::string_view subject, std::string_view queue, MessageHandler handler) {
  if (queue.empty()) throw Exception(Error::kInvalidQueueName, "empty queue group");
  return core_->subscribe(subject, queue, std::move(handler), false);
}

Subscription Connection::subscribe_sync(std::string_view subject) { return core_->subscribe(subject, {}, {}, true); }

Subscription Connection::queue_subscribe_sync(std::string_view subject, std::string_view queue) {
  if (queue.empty()) throw Exception(Error::kInvalidQueueName, "empty queue group");
  return core_->subscribe(subject, queue, {}, true);
}

Message Connection::request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout) {
  Message msg;
  msg.subject = subject;
  msg.data = data;
  return core_->request(std::move(msg), timeout);
}

Message Connection::request(const Message& msg, std::chrono::milliseconds timeout) {
  return core_->request(msg, timeout);
}

std::string Connection::new_inbox() const { return core_->new_inbox(); }

void Connection::start_connect(Completion done) {
  try {
    core_->start_connect([done, core = core_.get()](const ErrorInfo& e) {
      core->note_cb_post();  // the completion is posted (to the callback strand by default)
      done(e ? std::make_exception_ptr(Exception(e)) : std::exception_ptr());
    });
  } catch (...) {
    done(std::current_exception());
  }
}

void Connection::start_flush(std::chrono::milliseconds timeout, Completion done) {
  try {
    core_->start_flush(timeout, [done, core = core_.get()](const ErrorInfo& e) {
      core->note_cb_post();
      done(e ? std::make_exception_ptr(Exception(e)) : std::exception_ptr());
    });
  } catch (...) {
    done(std::current_exception());
  }
}

void Connection::start_request(Message msg, std::chrono::milliseconds timeout, RequestCompletion done) {
  try {
    core_->start_request(std::move(msg), timeout, [done, core = core_.get()](const ErrorInfo& e, Message m) {
      core->note_cb_post();
      done(e ? std::make_exception_ptr(Exception(e)) : std::exception_ptr(), std::move(m));
    });
  } catch (...) {
    done(std::current_exception(), Message{});
  }
}

Status Connection::status() const { return core_->status(); }
std::string Connection::connected_url() const { return core_->connected_url(); }
std::string Connection::connected_server_id() const { return core_->connected_server_id(); }
ServerInfo Connection::server_info() const { return core_->server_info(); }
int64_t Connection::max_payload() const { return core_->max_payload(); }
std::vector<std::string> Connection::servers() const { return core_->servers(); }
std::vector<std::string> Connection::discovered_servers() const { return core_->discovered_servers(); }
ErrorInfo Connection::last_error() const { return core_->last_error(); }
Statistics Connection::stats() const { return core_->stats(); }
const ClientOptions& Connection::options() const { return core_->options(); }
boost::asio::any_io_executor Connection::callback_executor() const { return core_->callback_executor(); }

}  // namespace pylon
