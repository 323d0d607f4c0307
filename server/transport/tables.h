// The dispatch table of each service that operates on objects, and of the
// Manager service. Each table is built once, on first use.
#ifndef SHOAL_SERVER_TRANSPORT_TABLES_H_
#define SHOAL_SERVER_TRANSPORT_TABLES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/functional/function_ref.h"
#include "google/protobuf/repeated_field.h"
#include "server/objects/waiting.h"
#include "server/transport/dispatch.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {

const DispatchTable& ListTable();
const DispatchTable& DictTable();
const DispatchTable& NamespaceTable();
const DispatchTable& ValueTable();
const DispatchTable& ManagerTable();
const DispatchTable& LockTable();
const DispatchTable& RLockTable();
const DispatchTable& SemaphoreTable();
const DispatchTable& BoundedSemaphoreTable();
const DispatchTable& ConditionTable();
const DispatchTable& EventTable();
const DispatchTable& BarrierTable();
const DispatchTable& QueueTable();
const DispatchTable& JoinableQueueTable();
const DispatchTable& ArrayTable();
const DispatchTable& ConnectionTable();
const DispatchTable& PoolTable();

// The deadline of a call that may wait, from its optional timeout in seconds
// (see TimedRequest in sync.proto): none when left out, now for 0, and
// absl::InfiniteFuture() for an infinite timeout (which waits for ever, as no
// deadline does; only a Barrier tells the two apart: none means its default
// timeout). ValueError for a negative or NaN timeout.
absl::StatusOr<std::optional<absl::Time>> DeadlineOf(CallContext& context, bool has_timeout,
                                                     double timeout);

// The optional bounds of a request with start, stop or step fields (a
// slice, or IndexOf's range); an unset one is Python's None.
template <typename Req>
std::optional<int64_t> StartOf(const Req& r) {
  return r.has_start() ? std::optional<int64_t>(r.start()) : std::nullopt;
}
template <typename Req>
std::optional<int64_t> StopOf(const Req& r) {
  return r.has_stop() ? std::optional<int64_t>(r.stop()) : std::nullopt;
}
template <typename Req>
std::optional<int64_t> StepOf(const Req& r) {
  return r.has_step() ? std::optional<int64_t>(r.step()) : std::nullopt;
}

// Decodes repeated wire values for storing in target, failing on the first bad one.
absl::StatusOr<Value::List> StoreAll(const CallContext& context,
                                     const google::protobuf::RepeatedPtrField<v1::Value>& wire,
                                     Object& target);
// Decodes repeated wire values that are only read (CallContext::Read), failing
// on the first bad one.
absl::StatusOr<Value::List> ReadAll(const CallContext& context,
                                    const google::protobuf::RepeatedPtrField<v1::Value>& wire);
// Puts a value, or the error that stands in its place, into a ValueReply.
absl::Status GiveValue(const CallContext& context, absl::StatusOr<Value> value,
                       v1::ValueReply& out);
// Puts values, or the error that stands in their place, into a ValuesReply.
absl::Status GiveValues(const CallContext& context, absl::StatusOr<Value::List> values,
                        v1::ValuesReply& out);
// Encodes values into a repeated reply field, giving the session their references.
void GiveAll(const CallContext& context, const Value::List& values,
             google::protobuf::RepeatedPtrField<v1::Value>* wire);

// Fills the reply of a call that waited, from its successful outcome.
// context is a copy of the call's, detached (CallContext::Detached), for
// CallContext::Give.
template <typename Resp>
using FillReply = void (*)(const CallContext& context, const Outcome& outcome, Resp& out);

// Fillers shared by several tables: EmptyReply (nothing to fill), BoolReply
// with the outcome's bool, AcquireReply with whether it was acquired and the
// fencing token.
void FillEmpty(const CallContext& context, const Outcome& outcome, v1::EmptyReply& out);
void FillBool(const CallContext& context, const Outcome& outcome, v1::BoolReply& out);
void FillAcquire(const CallContext& context, const Outcome& outcome, v1::AcquireReply& out);

// Serves a call that may wait on object: turns the request's optional
// timeout into a deadline (DeadlineOf; a bad timeout is answered with its
// ValueError and start is not called), calls start with the WaitRequest that
// the object completes, and lets the transport cancel the waiter start parked
// (CallContext::Parked). The call is answered exactly once, when the object
// completes it: with the outcome's error, or with the reply fill makes. A call
// that would park beyond the server's limits on parked calls (the core's
// ParkingLimits) is answered with their LimitError instead.
template <typename Resp, typename Obj>
void ParkCall(CallContext& context, std::shared_ptr<Obj> object, bool has_timeout,
              double timeout, Responder<Resp> respond,
              absl::FunctionRef<WaitId(Obj& object, WaitRequest request)> start,
              FillReply<Resp> fill) {
  absl::StatusOr<std::optional<absl::Time>> deadline = DeadlineOf(context, has_timeout, timeout);
  if (!deadline.ok()) return respond(deadline.status());
  WaitRequest request{
      Caller{context.session(), &context.core().parking()}, *deadline,
      [respond = std::move(respond), fill, detached = context.Detached()](Outcome o) mutable {
        if (!o.status.ok()) return respond(o.status);
        Resp out;
        fill(detached, o, out);
        respond(out);
      }};
  const WaitId id = start(*object, std::move(request));
  context.Parked(std::move(object), id);
}

// A row for a call that takes a TimedRequest and may wait: call is the
// object's method that starts it (Obj::Acquire, Obj::Wait, ...), served
// through ParkCall.
template <typename Obj, typename Resp>
Method TimedRow(absl::string_view service, absl::string_view name, Kind kind,
                WaitId (Obj::*call)(WaitRequest), FillReply<Resp> fill) {
  return WaitingRow<Obj, v1::TimedRequest, Resp>(
      service, name, kind,
      [call, fill](CallContext& c, std::shared_ptr<Obj> object, const v1::TimedRequest& r,
                   Responder<Resp> respond) {
        ParkCall<Resp, Obj>(
            c, std::move(object), r.has_timeout(), r.timeout(), std::move(respond),
            [call](Obj& o, WaitRequest w) { return (o.*call)(std::move(w)); }, fill);
      });
}

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_TABLES_H_
