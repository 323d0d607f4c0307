#include "shoal/value_proxy.h"

#include <utility>

#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/shared_value.pb.h"

namespace shoal {

using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;

Value ValueProxy::get() const {
  v1::ObjectRequest request;
  request.set_id(id());
  return handle().session().Call<v1::ValueReply>("/shoal.v1.ValueService/Get", request, KeepAlive(),
                                                 detail::ValueOf);
}

void ValueProxy::set(const Value& value) {
  v1::SetValueRequest request;
  request.set_id(id());
  KeepAlive keep_alive;
  EncodeArg(value, request.mutable_value(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ValueService/Set", request,
                                          std::move(keep_alive));
}

Value ValueProxy::add(const Value& delta) {
  v1::AddRequest request;
  request.set_id(id());
  KeepAlive keep_alive;
  EncodeArg(delta, request.mutable_delta(), &keep_alive);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.ValueService/Add", request,
                                                 std::move(keep_alive), detail::ValueOf);
}

bool ValueProxy::compare_and_swap(const Value& expected, const Value& desired, Value* current) {
  v1::CompareAndSwapRequest request;
  request.set_id(id());
  KeepAlive keep_alive;
  EncodeArg(expected, request.mutable_expected(), &keep_alive);
  EncodeArg(desired, request.mutable_desired(), &keep_alive);
  auto [swapped, after] = handle().session().Call<v1::CompareAndSwapReply>(
      "/shoal.v1.ValueService/CompareAndSwap", request, std::move(keep_alive),
      [](ClientSession& session, v1::CompareAndSwapReply& reply) {
        return std::make_pair(reply.swapped(), session.Adopt(reply.value()));
      });
  if (current != nullptr) *current = std::move(after);
  return swapped;
}

std::string ValueProxy::typecode() const {
  return detail::DescribeAsync(handle().session(), id()).get().typecode;
}

}  // namespace shoal
