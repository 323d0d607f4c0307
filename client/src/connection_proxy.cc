// The proxy of a Pipe's ends, and Manager::Pipe, which makes them.
#include <string>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/connection_proxy.h"
#include "shoal/errors.h"
#include "shoal/manager.h"
#include "shoal/v1/connection.pb.h"
#include "shoal/v1/manager.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal {
namespace {

using detail::AsyncTarget;
using detail::BoolOf;
using detail::KeepAlive;
using detail::NoResult;
namespace method = detail::method;

v1::ObjectRequest Plain(const AsyncTarget& target) {
  return detail::RequestFor<v1::ObjectRequest>(target);
}

}  // namespace

std::pair<ConnectionProxy, ConnectionProxy> Manager::Pipe(bool duplex, std::string_view name,
                                                          PipeOptions options) const {
  v1::CreateRequest request;
  request.set_kind(v1::PIPE);
  request.set_name(std::string(name));
  request.set_maxsize(options.buffer_bytes);
  request.set_duplex(duplex);
  using Handle = std::shared_ptr<detail::ObjectHandle>;
  std::pair<Handle, Handle> ends =
      detail::Start(session(), nullptr, method::Manager::Create, request, KeepAlive(),
                    [](detail::ClientSession& session, v1::CreateReply& reply) {
                      const v1::PipeEnds& ends = reply.ends();
                      if (reply.ref().id() == 0 || ends.first().id() == 0 ||
                          ends.second().id() == 0) {
                        throw Error("Error", "the server returned a Pipe without its two ends");
                      }
                      // The pipe's own reference goes back as this handle
                      // goes; the caller keeps the ends.
                      Handle pipe = session.AdoptRef(reply.ref());
                      return std::make_pair(session.AdoptRef(ends.first()),
                                            session.AdoptRef(ends.second()));
                    })
          .get();
  return {detail::ProxyAccess::Make<ConnectionProxy>(std::move(ends.first)),
          detail::ProxyAccess::Make<ConnectionProxy>(std::move(ends.second))};
}

ConnectionProxy::Async ConnectionProxy::async() const { return Async(async_target(nullptr)); }
ConnectionProxy::Async ConnectionProxy::async(Batch& batch) const {
  return Async(async_target(&batch));
}
ConnectionProxy::Async ConnectionProxy::now() const { return Async(immediate_target()); }

Future<void> ConnectionProxy::Async::send(const Value& obj) {
  auto request = detail::RequestFor<v1::SendRequest>(target_);
  KeepAlive keep_alive;
  detail::EncodeArg(obj, request.mutable_item(), &keep_alive);
  return detail::Start(target_, method::ConnectionService::Send, request, std::move(keep_alive),
                       NoResult);
}

Future<Value> ConnectionProxy::Async::recv() {
  return detail::Start(target_, method::ConnectionService::Recv,
                       detail::RequestFor<v1::TimedRequest>(target_), KeepAlive(),
                       detail::ValueOf);
}

Future<bool> ConnectionProxy::Async::poll(Timeout timeout) {
  // Python's poll(None) waits as long as it takes: the wire's timeout left
  // out. A negative timeout is 0, as Python's.
  auto request = detail::RequestFor<v1::TimedRequest>(target_);
  if (timeout.has_value()) request.set_timeout(timeout->count() > 0 ? timeout->count() : 0);
  return detail::Start(target_, method::ConnectionService::Poll, request, KeepAlive(), BoolOf);
}

Future<void> ConnectionProxy::Async::close() {
  return detail::Start(target_, method::ConnectionService::Close, Plain(target_), KeepAlive(),
                       NoResult);
}

void ConnectionProxy::send(const Value& obj) { now().send(obj).get(); }

Value ConnectionProxy::recv() { return now().recv().get(); }

bool ConnectionProxy::poll(Timeout timeout) { return now().poll(timeout).get(); }

void ConnectionProxy::close() { now().close().get(); }

bool ConnectionProxy::closed() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::ConnectionService::Closed, Plain(target), KeepAlive(),
                       BoolOf)
      .get();
}

bool ConnectionProxy::readable() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::ConnectionService::Readable, Plain(target), KeepAlive(),
                       BoolOf)
      .get();
}

bool ConnectionProxy::writable() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::ConnectionService::Writable, Plain(target), KeepAlive(),
                       BoolOf)
      .get();
}

}  // namespace shoal
