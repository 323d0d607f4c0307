// The slice calls ListProxy and ArrayProxy share: seq[start:stop:step] read
// and assigned, an unset bound sent absent (Python's None), and a list of
// Values put into a request. The calls are started as Start starts any
// (client/src/call.h).
//
// Thread-safe, as Start.
#ifndef SHOAL_CLIENT_SRC_SLICE_CALLS_H_
#define SHOAL_CLIENT_SRC_SLICE_CALLS_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/reply_conversions.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "shoal/pipeline.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal::detail {

// Sets the bounds of a slice request; an unset bound stays absent.
template <class Request>
void SetBounds(Request* request, std::optional<int64_t> start, std::optional<int64_t> stop,
               std::optional<int64_t> step) {
  if (start) request->set_start(*start);
  if (stop) request->set_stop(*stop);
  if (step) request->set_step(*step);
}

// Appends values, in order, to a request's repeated Value field.
inline void EncodeArgs(const Value::List& values,
                       google::protobuf::RepeatedPtrField<v1::Value>* wire,
                       KeepAlive* keep_alive) {
  wire->Reserve(static_cast<int>(values.size()));
  for (const Value& value : values) EncodeArg(value, wire->Add(), keep_alive);
}

// Starts method, a GetSlice, for the target's seq[start:stop:step]; its
// Future gives the items as a list.
template <class M>
Future<Value::List> StartGetSlice(const AsyncTarget& target, const M& method,
                                  std::optional<int64_t> start, std::optional<int64_t> stop,
                                  std::optional<int64_t> step) {
  auto request = RequestFor<typename M::Request>(target);
  SetBounds(&request, start, stop, step);
  return Start(target, method, request, KeepAlive(), ValuesOf);
}

// Starts method, a SetSlice, for the target's seq[start:stop:step] = values.
// field(request) is the request's repeated field that carries the values.
template <class M, class Field>
Future<void> StartSetSlice(const AsyncTarget& target, const M& method,
                           std::optional<int64_t> start, std::optional<int64_t> stop,
                           std::optional<int64_t> step, const Value::List& values, Field field) {
  ArenaRequest<typename M::Request> request(target);
  SetBounds(&*request, start, stop, step);
  KeepAlive keep_alive;
  EncodeArgs(values, field(*request), &keep_alive);
  return Start(target, method, *request, std::move(keep_alive), NoResult);
}

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_SLICE_CALLS_H_
