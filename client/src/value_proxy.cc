#include "shoal/value_proxy.h"

#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/reply_conversions.h"
#include "client/src/wire_request.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/shared_value.pb.h"

namespace shoal {

using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;
using detail::RequestFor;
namespace method = detail::method;

ValueProxy::Async ValueProxy::async() const { return Async(async_target(nullptr)); }
ValueProxy::Async ValueProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
ValueProxy::Async ValueProxy::now() const { return Async(immediate_target()); }

Future<Value> ValueProxy::Async::get() {
  return detail::Start(target_, method::ValueService::Get, RequestFor<v1::ObjectRequest>(target_),
                       KeepAlive(), detail::ValueOf);
}

Future<void> ValueProxy::Async::set(const Value& value) {
  auto request = RequestFor<v1::SetValueRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(value, request.mutable_value(), &keep_alive);
  return detail::Start(target_, method::ValueService::Set, request, std::move(keep_alive),
                       detail::NoResult);
}

Future<Value> ValueProxy::Async::add(const Value& delta) {
  if (auto wire = detail::ValuesRequest(target_, {{v1::AddRequest::kDeltaFieldNumber, &delta}})) {
    return detail::StartSerialized(target_, method::ValueService::Add, *std::move(wire),
                                   KeepAlive(), detail::ValueOf);
  }
  auto request = RequestFor<v1::AddRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(delta, request.mutable_delta(), &keep_alive);
  return detail::Start(target_, method::ValueService::Add, request, std::move(keep_alive),
                       detail::ValueOf);
}

Future<std::pair<bool, Value>> ValueProxy::Async::compare_and_swap(const Value& expected,
                                                                   const Value& desired) {
  auto request = RequestFor<v1::CompareAndSwapRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(expected, request.mutable_expected(), &keep_alive);
  EncodeArg(desired, request.mutable_desired(), &keep_alive);
  return detail::Start(target_, method::ValueService::CompareAndSwap, request,
                       std::move(keep_alive),
                       [](ClientSession& session, v1::CompareAndSwapReply& reply) {
                         return std::make_pair(reply.swapped(), session.Adopt(reply.value()));
                       });
}

Value ValueProxy::get() const { return now().get().get(); }
void ValueProxy::set(const Value& value) { now().set(value).get(); }
Value ValueProxy::add(const Value& delta) { return now().add(delta).get(); }

bool ValueProxy::compare_and_swap(const Value& expected, const Value& desired, Value* current) {
  auto [swapped, after] = now().compare_and_swap(expected, desired).get();
  if (current != nullptr) *current = std::move(after);
  return swapped;
}

std::string ValueProxy::typecode() const {
  return detail::DescribeAsync(immediate_target().handle->session(), id()).get().typecode;
}

}  // namespace shoal
