#include "shoal/array_proxy.h"

#include <optional>
#include <string>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/reply_conversions.h"
#include "client/src/slice_calls.h"
#include "shoal/v1/array.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;
using detail::NoResult;
using detail::RequestFor;
using detail::Start;
namespace method = detail::method;

}  // namespace

ArrayProxy::Async ArrayProxy::async() const { return Async(async_target(nullptr)); }
ArrayProxy::Async ArrayProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
ArrayProxy::Async ArrayProxy::now() const { return Async(immediate_target()); }

Future<size_t> ArrayProxy::Async::len() {
  return Start(target_, method::ArrayService::Len, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::SizeOf);
}

Future<Value> ArrayProxy::Async::get(int64_t index) {
  auto request = RequestFor<v1::ArrayIndexRequest>(target_);
  request.set_index(index);
  return Start(target_, method::ArrayService::GetItem, request, KeepAlive(), detail::ValueOf);
}

Future<void> ArrayProxy::Async::set(int64_t index, const Value& value) {
  auto request = RequestFor<v1::ArraySetItemRequest>(target_);
  request.set_index(index);
  KeepAlive keep_alive;
  EncodeArg(value, request.mutable_value(), &keep_alive);
  return Start(target_, method::ArrayService::SetItem, request, std::move(keep_alive), NoResult);
}

Future<Value::List> ArrayProxy::Async::slice(std::optional<int64_t> start,
                                             std::optional<int64_t> stop,
                                             std::optional<int64_t> step) {
  return detail::StartGetSlice(target_, method::ArrayService::GetSlice, start, stop, step);
}

Future<void> ArrayProxy::Async::set_slice(std::optional<int64_t> start,
                                          std::optional<int64_t> stop, const Value::List& values) {
  return set_slice(start, stop, std::nullopt, values);
}

Future<void> ArrayProxy::Async::set_slice(std::optional<int64_t> start,
                                          std::optional<int64_t> stop,
                                          std::optional<int64_t> step, const Value::List& values) {
  return detail::StartSetSlice(
      target_, method::ArrayService::SetSlice, start, stop, step, values,
      [](v1::ArraySetSliceRequest& request) { return request.mutable_values(); });
}

Future<Value::List> ArrayProxy::Async::tolist() {
  return Start(target_, method::ArrayService::ToList, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::ValuesOf);
}

Future<std::string> ArrayProxy::Async::typecode() {
  return Start(target_, method::ArrayService::Typecode, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), [](ClientSession&, v1::TypecodeReply& reply) {
                 return std::move(*reply.mutable_typecode());
               });
}

// The blocking methods: the pipelined call, waited for.

size_t ArrayProxy::len() const { return now().len().get(); }
Value ArrayProxy::get(int64_t index) const { return now().get(index).get(); }
void ArrayProxy::set(int64_t index, const Value& value) { now().set(index, value).get(); }

Value::List ArrayProxy::slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                              std::optional<int64_t> step) const {
  return now().slice(start, stop, step).get();
}

void ArrayProxy::set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                           const Value::List& values) {
  now().set_slice(start, stop, values).get();
}

void ArrayProxy::set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                           std::optional<int64_t> step, const Value::List& values) {
  now().set_slice(start, stop, step, values).get();
}

Value::List ArrayProxy::tolist() const { return now().tolist().get(); }
std::string ArrayProxy::typecode() const { return now().typecode().get(); }

}  // namespace shoal
