#include "shoal/namespace_proxy.h"

#include <exception>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/reply_conversions.h"
#include "shoal/v1/namespace.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {

using detail::ClientSession;
using detail::KeepAlive;
using detail::RequestFor;
namespace method = detail::method;

namespace {

std::vector<std::pair<std::string, Value>> AttrsOf(ClientSession& session,
                                                    v1::AttrsReply& reply) {
  std::vector<std::pair<std::string, Value>> attrs;
  attrs.reserve(static_cast<size_t>(reply.attrs_size()));
  std::exception_ptr first_error;
  // Every value is adopted even after a failure, so that none of the
  // reply's references is left unowned.
  for (v1::Attr& attr : *reply.mutable_attrs()) {
    try {
      attrs.emplace_back(std::move(*attr.mutable_name()), session.Adopt(attr.value()));
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  return attrs;
}

v1::AttrRequest AttrRequest(const detail::AsyncTarget& target, const std::string& attr) {
  auto request = RequestFor<v1::AttrRequest>(target);
  request.set_attr(attr);
  return request;
}

}  // namespace

NamespaceProxy::Async NamespaceProxy::async() const { return Async(async_target(nullptr)); }
NamespaceProxy::Async NamespaceProxy::async(Batch& batch) const {
  return Async(async_target(&batch));
}
NamespaceProxy::Async NamespaceProxy::now() const { return Async(immediate_target()); }

Future<Value> NamespaceProxy::Async::get(const std::string& attr) {
  return detail::Start(target_, method::NamespaceService::GetAttr, AttrRequest(target_, attr),
                       KeepAlive(), detail::ValueOf);
}

Future<void> NamespaceProxy::Async::set(const std::string& attr, const Value& value) {
  auto request = RequestFor<v1::SetAttrRequest>(target_);
  request.set_attr(attr);
  KeepAlive keep_alive;
  detail::EncodeArg(value, request.mutable_value(), &keep_alive);
  return detail::Start(target_, method::NamespaceService::SetAttr, request, std::move(keep_alive),
                       detail::NoResult);
}

Future<void> NamespaceProxy::Async::del(const std::string& attr) {
  return detail::Start(target_, method::NamespaceService::DelAttr, AttrRequest(target_, attr),
                       KeepAlive(), detail::NoResult);
}

Future<std::vector<std::pair<std::string, Value>>> NamespaceProxy::Async::attrs() {
  return detail::Start(target_, method::NamespaceService::Attrs,
                       RequestFor<v1::ObjectRequest>(target_), KeepAlive(), AttrsOf);
}

Value NamespaceProxy::get(const std::string& attr) const { return now().get(attr).get(); }
void NamespaceProxy::set(const std::string& attr, const Value& value) {
  now().set(attr, value).get();
}
void NamespaceProxy::del(const std::string& attr) { now().del(attr).get(); }
std::vector<std::pair<std::string, Value>> NamespaceProxy::attrs() const {
  return now().attrs().get();
}

}  // namespace shoal
