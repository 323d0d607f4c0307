// Dispatch tables: one row per operation of an object service, keyed by the
// gRPC method path ("/shoal.v1.ListService/Append"). A row decodes the
// request, finds the target object, calls the object class, and encodes the
// reply. Both the typed unary services (for grpcurl and simple clients) and
// the session stream (for the client library) call through the same rows, so
// an operation is written once.
#ifndef SHOAL_SERVER_TRANSPORT_DISPATCH_H_
#define SHOAL_SERVER_TRANSPORT_DISPATCH_H_

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "server/core/core.h"
#include "shared/error_kind.h"
#include "shared/stack_arena.h"
#include "shared/value_codec.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal::server {

// How the transport cancels one call while it is parked on an object: the
// session stream does it for a Cancel frame or a stream that ends, the unary
// services when gRPC cancels the call (the client went away or its deadline
// passed). Implemented by the transport, one per call in flight.
class CallControl {
 public:
  virtual ~CallControl() = default;
  // Registers what cancels the parked call; the transport runs it at most
  // once, from any thread, and drops it once the call is answered. A call
  // whose cancellation came before this runs cancel at once, on this thread.
  // cancel must complete the call (the objects' Cancel(WaitId) does, with
  // CancelledError, and is a no-op for a waiter already completed).
  virtual void SetCancel(absl::AnyInvocable<void()> cancel) = 0;
};

// What a row may use while it serves one call: the core and the caller's
// session, and the value conversions that keep reference counts right. A
// CallContext is cheap to copy; a row whose reply comes later keeps a copy
// for its completion (without the control, which is for the row itself).
class CallContext {
 public:
  // ledger, when given, is the session's (held by the caller for the call's
  // run): its liveness is then read from it, without the sessions' lock.
  CallContext(Core& core, SessionId session, CallControl* control = nullptr,
              const CallLedger* ledger = nullptr)
      : core_(core), session_(session), control_(control), ledger_(ledger) {}

  Core& core() const { return core_; }
  SessionId session() const { return session_; }
  // Whether the session is still open (Sessions::Alive).
  bool SessionAlive() const {
    return ledger_ != nullptr ? !ledger_->ended() : core_.sessions().Alive(session_);
  }

  // Lets the transport cancel the call the row just parked as waiter id on
  // object (any class with Cancel(WaitId)). id 0 means the call completed at
  // once: nothing to cancel. Only while the row runs.
  template <typename Obj>
  void Parked(std::shared_ptr<Obj> object, uint64_t id) {
    if (id == 0 || control_ == nullptr) return;
    control_->SetCancel([object = std::move(object), id] { object->Cancel(id); });
  }
  // A copy for a completion that runs after the row returned.
  CallContext Detached() const { return CallContext(core_, session_); }

  // Decodes a value that will be stored in target: checks that every
  // reference in it names a live object, and marks target as holding
  // references when it does.
  absl::StatusOr<Value> Store(const v1::Value& wire, Object& target) const;
  // Decodes a value that is only compared or looked up, never stored.
  absl::StatusOr<Value> Read(const v1::Value& wire) const;
  // Encodes a value for the reply; the session now holds one reference for
  // every reference in it.
  void Give(const Value& value, v1::Value* wire) const;

 private:
  Core& core_;
  SessionId session_;
  CallControl* control_;
  const CallLedger* ledger_;
};

// What a request that does not parse is answered with.
inline absl::Status MalformedRequest() {
  return error::ValueError(MalformedMessage("request message"));
}

// Completes a call: with an error, or OK and the serialized response.
using ReplyFn = absl::AnyInvocable<void(absl::Status, std::string)>;

struct Method {
  std::string path;
  const google::protobuf::Descriptor* request_type = nullptr;
  const google::protobuf::Descriptor* response_type = nullptr;
  // Most rows run under the registry's collector lock, held shared; rows that
  // collect take it themselves.
  bool under_collector_lock = true;
  std::function<void(CallContext&, absl::string_view request, ReplyFn reply)> invoke;
};

// The rows of one gRPC service. Construction checks the rows against the
// service's descriptor: one row per method, with its request and response
// types, so a table cannot drift from the proto.
class DispatchTable {
 public:
  // service is the full name, such as "shoal.v1.ListService".
  DispatchTable(std::string service, std::vector<Method> rows);

  const std::string& service() const { return service_; }
  const std::vector<Method>& rows() const { return rows_; }

 private:
  std::string service_;
  std::vector<Method> rows_;
};

// A reply too large to send would break the caller's stream: one past the
// server's message limit (max_message_bytes, from its options), less a
// margin for the frame around it, becomes this call's LimitError instead.
// What each transport that calls Dispatcher::Invoke does to the replies it
// sends.
void FitReply(int64_t max_message_bytes, absl::Status& status, std::string& out);

// Every table, for the session stream's lookup by path.
class Dispatcher {
 public:
  explicit Dispatcher(std::vector<const DispatchTable*> tables);
  // The row for a method path, or null.
  const Method* Find(absl::string_view path) const;
  const std::vector<const DispatchTable*>& tables() const { return tables_; }

  // Runs a call: takes the collector lock if the row wants it, invokes the
  // row, and turns a malformed request into ValueError. reply gets the reply
  // as the row makes it: a transport passes it through FitReply before it
  // sends it.
  void Invoke(const Method& method, CallContext& context, absl::string_view request,
              ReplyFn reply) const;

 private:
  std::vector<const DispatchTable*> tables_;
  absl::flat_hash_map<std::string, const Method*> by_path_;
};

// A response's wire form: an EmptyReply, which has no fields, is none, and
// skips the serializer.
template <typename Resp>
std::string ResponseBytes(const Resp& response) {
  if constexpr (std::is_same_v<Resp, v1::EmptyReply>) {
    return std::string();
  } else {
    return response.SerializeAsString();
  }
}

namespace dispatch_internal {

// A row's path and message types, its invoke left to fill.
template <typename Req, typename Resp>
Method Unfilled(absl::string_view service, absl::string_view name) {
  Method method;
  method.path = std::string("/") + std::string(service) + "/" + std::string(name);
  method.request_type = Req::descriptor();
  method.response_type = Resp::descriptor();
  return method;
}

template <typename Req, typename Resp>
Method MakeMethod(absl::string_view service, absl::string_view name,
                  std::function<absl::Status(CallContext&, const Req&, Resp&)> fn) {
  Method method = Unfilled<Req, Resp>(service, name);
  method.invoke = [fn = std::move(fn)](CallContext& context, absl::string_view bytes,
                                       ReplyFn reply) {
    StackArena arena;
    Req& request = *arena.Create<Req>();
    if (!ParseCarryingValues(bytes, &request)) {
      reply(MalformedRequest(), std::string());
      return;
    }
    Resp& response = *arena.Create<Resp>();
    absl::Status status = fn(context, request, response);
    if (!status.ok()) {
      reply(std::move(status), std::string());
      return;
    }
    reply(absl::OkStatus(), ResponseBytes(response));
  };
  return method;
}

}  // namespace dispatch_internal

// The reply of a call that may wait: a row passes it to the object's
// completion, which calls it exactly once, with an error or the response.
// Cheap to move; not copyable.
template <typename Resp>
class Responder {
 public:
  explicit Responder(ReplyFn reply) : reply_(std::move(reply)) {}
  void operator()(const absl::Status& status) { reply_(status, std::string()); }
  void operator()(const Resp& response) {
    reply_(absl::OkStatus(), ResponseBytes(response));
  }

 private:
  ReplyFn reply_;
};

// A row on one object of class Obj whose reply may come later (a call that
// may park): fn gets the object itself, to park on and to name in
// CallContext::Parked, and a Responder to answer with, now or later.
template <typename Obj, typename Req, typename Resp>
Method WaitingRow(
    absl::string_view service, absl::string_view name, Kind kind,
    std::function<void(CallContext&, std::shared_ptr<Obj>, const Req&, Responder<Resp>)> fn) {
  Method method = dispatch_internal::Unfilled<Req, Resp>(service, name);
  method.invoke = [kind, fn = std::move(fn)](CallContext& context, absl::string_view bytes,
                                             ReplyFn reply) {
    Req request;
    if (!ParseCarryingValues(bytes, &request)) {
      reply(MalformedRequest(), std::string());
      return;
    }
    absl::StatusOr<std::shared_ptr<Object>> object =
        context.core().registry().Find(request.id(), request.name(), kind);
    if (!object.ok()) {
      reply(object.status(), std::string());
      return;
    }
    fn(context, std::static_pointer_cast<Obj>(*std::move(object)), request,
       Responder<Resp>(std::move(reply)));
  };
  return method;
}

// A row that needs no target object (the Manager service).
template <typename Req, typename Resp>
Method Row(absl::string_view service, absl::string_view name,
           std::function<absl::Status(CallContext&, const Req&, Resp&)> fn) {
  return dispatch_internal::MakeMethod<Req, Resp>(service, name, std::move(fn));
}

// A row on one object of class Obj, named by the request's id or name fields.
template <typename Obj, typename Req, typename Resp>
Method ObjectRow(absl::string_view service, absl::string_view name, Kind kind,
                 std::function<absl::Status(CallContext&, Obj&, const Req&, Resp&)> fn) {
  return dispatch_internal::MakeMethod<Req, Resp>(
      service, name,
      [kind, fn = std::move(fn)](CallContext& context, const Req& request,
                                 Resp& response) -> absl::Status {
        absl::StatusOr<std::shared_ptr<Object>> object =
            context.core().registry().Find(request.id(), request.name(), kind);
        if (!object.ok()) return object.status();
        return fn(context, static_cast<Obj&>(**object), request, response);
      });
}

// The object a request names by its id (field 1) and name (field 2), read
// from the request's wire form: what every object request starts with.
absl::StatusOr<std::shared_ptr<Object>> FindNamedInWire(const CallContext& context,
                                                        absl::string_view request, Kind kind);

// While one lives on a thread (SessionCore::DispatchAll makes one for each
// frame it runs), FindNamedInWire on that thread remembers the last object it
// found, and finds it again without the registry's lock or tables for as long
// as the registry's generation stays the same: a frame's calls mostly name one
// object. It holds no strong reference, so it never keeps an object alive.
// One may live inside another on a thread (the inner one is used).
class FoundObjects {
 public:
  FoundObjects();
  ~FoundObjects();
  FoundObjects(const FoundObjects&) = delete;
  FoundObjects& operator=(const FoundObjects&) = delete;

  // The one in use on this thread, or null.
  static FoundObjects* Current();

  // registry.Find(id, name, kind), answered from what this remembers when
  // the registry's generation reads as it did when it was found.
  absl::StatusOr<std::shared_ptr<Object>> Find(const Registry& registry, uint64_t id,
                                               absl::string_view name, Kind kind);

 private:
  FoundObjects* const outer_;
  const Registry* registry_ = nullptr;
  uint64_t generation_ = 0;
  uint64_t id_ = 0;
  std::string name_;
  Kind kind_ = Kind::kUnspecified;
  std::weak_ptr<Object> object_;
};

// The occurrences of one message field of a request (one, mostly: room for
// it without an allocation).
using WireParts = absl::InlinedVector<absl::string_view, 1>;

// The occurrences of a request's message fields, read from its wire form:
// parts[i] gets those of numbers[i], each of which must be length-delimited.
// False when the request is malformed.
bool WireFields(absl::string_view request, std::initializer_list<uint32_t> numbers,
                WireParts* parts);

// The Value a message field of a request holds, given its occurrences as
// WireFields reads them (more than one are merged, as protobuf's parser
// merges them), stored for target as CallContext::Store stores: one plain
// value (None, bool, int, float, str, bytes) is read straight from the wire,
// anything else through v1::Value. Into *out, where the caller keeps it.
absl::Status StoreWireValue(const CallContext& context, Object& target,
                            const WireParts& parts, Value* out);

// The Value a message field of a request holds, given its occurrences as
// WireFields reads them, decoded as CallContext::Read decodes a value that is
// only compared or looked up: one plain value straight from the wire,
// anything else through v1::Value. No occurrence reads as an unset Value.
absl::Status ReadWireValue(const CallContext& context,
                           const WireParts& parts, Value* out);

// A serialized ValueReply holding value: a plain value written straight to
// the wire, any other through v1::Value, given to the caller's session as
// CallContext::Give gives it.
std::string ValueReplyBytes(const CallContext& context, const Value& value);

namespace dispatch_internal {

// Runs answer on the object of class Obj a request read from the wire names
// (FindNamedInWire), or replies with why there is none.
template <typename Obj, typename Answer>
void WithNamedInWire(CallContext& context, absl::string_view bytes, Kind kind, ReplyFn& reply,
                     Answer answer) {
  absl::StatusOr<std::shared_ptr<Object>> object = FindNamedInWire(context, bytes, kind);
  if (!object.ok()) {
    reply(object.status(), std::string());
    return;
  }
  answer(static_cast<Obj&>(**object));
}

}  // namespace dispatch_internal

// A row on one object of class Obj that reads its request (of type Req) from
// the wire itself and answers with one value (a ValueReply), written to the
// wire itself: the rows of the plain calls that return a value.
template <typename Obj, typename Req>
Method WireValueRow(absl::string_view service, absl::string_view name, Kind kind,
                    std::function<absl::StatusOr<Value>(CallContext&, Obj&, absl::string_view)> fn) {
  Method method = dispatch_internal::Unfilled<Req, v1::ValueReply>(service, name);
  method.invoke = [kind, fn = std::move(fn)](CallContext& context, absl::string_view bytes,
                                             ReplyFn reply) {
    dispatch_internal::WithNamedInWire<Obj>(context, bytes, kind, reply, [&](Obj& object) {
      absl::StatusOr<Value> value = fn(context, object, bytes);
      if (!value.ok()) {
        reply(value.status(), std::string());
      } else {
        reply(absl::OkStatus(), ValueReplyBytes(context, *value));
      }
    });
  };
  return method;
}

// A row on one object of class Obj that reads its request (of type Req) from
// the wire itself, for requests of many values decoded straight into Values
// rather than through protobuf messages.
template <typename Obj, typename Req, typename Resp>
Method WireRow(absl::string_view service, absl::string_view name, Kind kind,
               std::function<absl::Status(CallContext&, Obj&, absl::string_view, Resp&)> fn) {
  Method method = dispatch_internal::Unfilled<Req, Resp>(service, name);
  method.invoke = [kind, fn = std::move(fn)](CallContext& context, absl::string_view bytes,
                                             ReplyFn reply) {
    dispatch_internal::WithNamedInWire<Obj>(context, bytes, kind, reply, [&](Obj& object) {
      if constexpr (std::is_same_v<Resp, v1::EmptyReply>) {
        // Nothing to fill and nothing on the wire: the thread's one message,
        // not one made and destroyed per call.
        thread_local Resp empty;
        reply(fn(context, object, bytes, empty), std::string());
      } else {
        Resp response;
        absl::Status status = fn(context, object, bytes, response);
        if (!status.ok()) {
          reply(std::move(status), std::string());
        } else {
          reply(absl::OkStatus(), ResponseBytes(response));
        }
      }
    });
  };
  return method;
}

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_DISPATCH_H_
