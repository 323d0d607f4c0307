// How the async() views of the proxies start a call: on the session of the
// target's handle, into the target's outbox when it has one, with a Future
// that sends that outbox when waited on. The blocking proxy methods are the
// async ones followed by get(), so each operation is written once.
#ifndef SHOAL_CLIENT_SRC_ASYNC_CALL_H_
#define SHOAL_CLIENT_SRC_ASYNC_CALL_H_

#include <cstdint>
#include <type_traits>
#include <utility>

#include "absl/strings/string_view.h"
#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "google/protobuf/message_lite.h"
#include "shared/stack_arena.h"
#include "shoal/pipeline.h"
#include "shoal/v1/object.pb.h"

namespace shoal::detail {

// Starts a call whose reply convert turns into the Future's result.
template <class Response, class Convert>
auto Start(const AsyncTarget& target, absl::string_view method,
           const google::protobuf::MessageLite& request, KeepAlive keep_alive, Convert convert)
    -> Future<std::invoke_result_t<Convert&, ClientSession&, Response&>> {
  ClientSession& session = target.handle->session();
  if (target.outbox != nullptr) {
    return {session.CallAsync<Response>(method, request, std::move(keep_alive),
                                        std::move(convert), target.outbox.get()),
            target.outbox};
  }
  // Written at once: whoever waits on the Future may read the reply itself.
  uint64_t call_id = 0;
  auto future = session.CallAsync<Response>(method, request, std::move(keep_alive),
                                            std::move(convert), nullptr, &call_id);
  if (call_id == 0) return {std::move(future), std::shared_ptr<Outbox>()};
  return {std::move(future), session.connection(), call_id};
}

// Starts a call whose reply carries nothing to return.
inline Future<void> StartEmpty(const AsyncTarget& target, absl::string_view method,
                               const google::protobuf::MessageLite& request,
                               KeepAlive keep_alive = {}) {
  return Start<v1::EmptyReply>(target, method, request, std::move(keep_alive),
                               [](ClientSession&, v1::EmptyReply&) {});
}

inline int64_t IntOf(ClientSession&, v1::IntReply& reply) { return reply.value(); }
inline size_t SizeOf(ClientSession&, v1::IntReply& reply) {
  return static_cast<size_t>(reply.value());
}
inline bool BoolOf(ClientSession&, v1::BoolReply& reply) { return reply.value(); }

// A request message aimed at the target's object, on a StackArena: for
// requests of many Values.
template <class Request>
class ArenaRequest {
 public:
  explicit ArenaRequest(const AsyncTarget& target) : request_(arena_.Create<Request>()) {
    request_->set_id(target.handle->id());
  }
  Request& operator*() { return *request_; }
  Request* operator->() { return request_; }

 private:
  StackArena arena_;
  Request* const request_;
};

// A request message aimed at the target's object.
template <class Request>
Request RequestFor(const AsyncTarget& target) {
  Request request;
  request.set_id(target.handle->id());
  return request;
}

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_ASYNC_CALL_H_
