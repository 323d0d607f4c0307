// The one way the client library calls the server: Start sends a method's
// request on the session stream and returns the Future of its result. Every
// proxy operation and every Manager call goes through it; a blocking method is
// its call started and waited for at once (Future::get), and then the waiting
// thread reads the reply itself while no other thread reads, so that the
// reply wakes no other thread.
//
// The outbox decides when the call is written: without one, at once, and its
// Future may read the reply; the session's stream outbox leaves it to the
// connection's flusher thread (async()); a batch's outbox gathers it until the
// batch is sent (async(batch)). Either way the Future sends what holds its
// call before it waits.
//
// When the reply arrives, the thread that reads it parses it as the method's
// Response and runs convert(ClientSession&, Response&), whose result (or
// exception) the Future delivers; an error reply delivers the matching
// shoal::Error. convert must adopt every reference in the reply (see
// ClientSession::Adopt) and must not block.
//
// Thread-safe, as the session and its connection.
#ifndef SHOAL_CLIENT_SRC_CALL_H_
#define SHOAL_CLIENT_SRC_CALL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "client/src/client_session.h"
#include "client/src/connection.h"
#include "client/src/error_mapping.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shared/packed_values.h"
#include "shared/stack_arena.h"
#include "shared/value_codec.h"
#include "shoal/errors.h"
#include "shoal/pipeline.h"

namespace shoal::detail {

// A serialized ValueReply holding one plain value (None, bool, int, float,
// str, bytes), which holds no reference to adopt, read straight from the
// wire into *out; false for any other, left to ValueOf.
inline bool PlainValueOfReply(absl::string_view response, Value* out) {
  WireReader in(response);
  uint32_t number = 0, type = 0;
  absl::string_view value;
  return in.Field(&number, &type, &value) && in.done() &&
         number == v1::ValueReply::kValueFieldNumber && type == kWireLengthDelimited &&
         DecodePlainValue(value, /*check_utf8=*/true, out);
}

// The conversions of replies that hold no references: none, and the whole
// reply message.
inline constexpr auto NoResult = [](ClientSession&, v1::EmptyReply&) {};
inline constexpr auto WholeReply = [](ClientSession&, auto& reply) { return std::move(reply); };

// One call's result and what makes it from the reply: convert, run on the
// thread that reads the reply, and the session whose references the reply
// gives. One allocation holds both, and the completion the connection keeps
// is a pointer to it.
template <class Result, class Convert, class Response>
class CallState : public ResultSlot<Result> {
 public:
  CallState(std::weak_ptr<ClientSession> session, Convert convert)
      : session_(std::move(session)), convert_(std::move(convert)) {}

  // Runs once. convert goes with it: what it captured is not held until the
  // Future goes.
  void Complete(CallOutcome& outcome) {
    try {
      Deliver(outcome);
    } catch (...) {
      this->set_exception(std::current_exception());
    }
    convert_.reset();
  }

 private:
  void Deliver(CallOutcome& outcome) {
    if (outcome.code != absl::StatusCode::kOk) {
      this->set_exception(ExceptionForKind(outcome.error_kind, outcome.error_message));
      return;
    }
    Convert& convert = *convert_;
    if constexpr (std::is_same_v<Convert, std::decay_t<decltype(NoResult)>>) {
      // An empty reply, the commonest, needs no parser.
      if (outcome.response.empty()) {
        if (session_.expired()) throw ConnectionError("session closed");
        this->set_value();
        return;
      }
    }
    if constexpr (std::is_same_v<Convert, Value (*)(ClientSession&, v1::ValueReply&)>) {
      // The commonest reply, a plain value, is read in place.
      Value plain;
      if (convert == &ValueOf && PlainValueOfReply(outcome.response, &plain)) {
        if (session_.expired()) throw ConnectionError("session closed");
        this->set_value(std::move(plain));
        return;
      }
    }
    Response response;
    if (!ParseCarryingValues(outcome.response, &response)) {
      throw Error("Error", MalformedMessage("reply from the server"));
    }
    // The session may be mid-destruction while its last replies arrive;
    // nothing can own their references then, and the server drops them
    // with the session.
    std::shared_ptr<ClientSession> self = session_.lock();
    if (self == nullptr) throw ConnectionError("session closed");
    // The caller may drop its last handle on the session as soon as the
    // future is ready, and then exit: let go of the session first, so that
    // its Close runs on the caller's thread, not on this one while the
    // process ends.
    if constexpr (std::is_void_v<Result>) {
      convert(*self, response);
      self.reset();
      this->set_value();
    } else {
      Result result = convert(*self, response);
      self.reset();
      this->set_value(std::move(result));
    }
  }

  const std::weak_ptr<ClientSession> session_;
  std::optional<Convert> convert_;
};

// Starts a call of method on session, its request a message of M's request
// type or its wire form (SerializedRequest); keep_alive is held until the
// reply.
template <class M, class Req, class Convert>
auto StartRequest(ClientSession& caller, const std::shared_ptr<Outbox>& outbox, const M& method,
                  Req&& request, KeepAlive keep_alive, Convert convert)
    -> Future<std::invoke_result_t<Convert&, ClientSession&, typename M::Response&>> {
  // A session inherited through fork() is its parent's: in a child, calls
  // go to its successor. (Proxies and Managers resolve theirs first, so that
  // their references are the child's too; this is for any other caller.)
  ClientSession& session = caller.ForThisProcess();
  using Response = typename M::Response;
  using Result = std::invoke_result_t<Convert&, ClientSession&, Response&>;
  auto state = std::make_shared<CallState<Result, Convert, Response>>(session.weak_from_this(),
                                                                      std::move(convert));
  CallCompletion done = [state](CallOutcome& outcome) { state->Complete(outcome); };
  std::shared_ptr<ResultSlot<Result>> slot = std::move(state);
  const std::shared_ptr<Connection>& connection = session.connection();
  const uint64_t call_id = connection->Send(method.path, std::forward<Req>(request),
                                            std::move(keep_alive), std::move(done), outbox.get());
  if (outbox != nullptr) return {std::move(slot), CallTicket(outbox)};
  // Refused before it was written (the session is gone, or the call too
  // large): the outcome is in the slot already.
  if (call_id == 0) return {std::move(slot), CallTicket()};
  return {std::move(slot), CallTicket(connection, call_id)};
}

template <class M, class Convert>
auto Start(ClientSession& caller, const std::shared_ptr<Outbox>& outbox, const M& method,
           const typename M::Request& request, KeepAlive keep_alive, Convert convert) {
  return StartRequest(caller, outbox, method, request, std::move(keep_alive), std::move(convert));
}

// Starts a call on the target's session, into its outbox, its request in
// wire form.
template <class M, class Convert>
auto StartSerialized(const AsyncTarget& target, const M& method, SerializedRequest request,
                     KeepAlive keep_alive, Convert convert) {
  return StartRequest(target.handle->session(), target.outbox, method, std::move(request),
                      std::move(keep_alive), std::move(convert));
}

// Starts a call on the target's session, into its outbox.
template <class M, class Convert>
auto Start(const AsyncTarget& target, const M& method, const typename M::Request& request,
           KeepAlive keep_alive, Convert convert) {
  return Start(target.handle->session(), target.outbox, method, request, std::move(keep_alive),
               std::move(convert));
}

// A request message aimed at the target's object.
template <class Request>
Request RequestFor(const AsyncTarget& target) {
  Request request;
  request.set_id(target.handle->id());
  return request;
}

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

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_CALL_H_
