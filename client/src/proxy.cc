#include "shoal/proxy.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "client/src/token.h"
#include "shoal/errors.h"
#include "shoal/namespace_proxy.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

// Python's Namespace.__repr__: the "name=value" strings of the public names
// (no leading underscore), sorted as strings, so that Namespace(x=1, x1=2)
// prints as Namespace(x1=2, x=1) ('1' sorts before '=').
std::string NamespaceRepr(const NamespaceProxy& ns) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : ns.attrs()) {
    if (!name.empty() && name[0] == '_') continue;
    parts.push_back(name + "=" + value.repr());
  }
  std::sort(parts.begin(), parts.end());
  std::string out = "Namespace(";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ", ";
    out += parts[i];
  }
  return out + ")";
}

}  // namespace

ObjectProxy::ObjectProxy(std::shared_ptr<detail::ObjectHandle> handle)
    : handle_(std::move(handle)) {}

ObjectProxy::ObjectProxy(const Value& value, Kind kind, Kind other_kind) {
  if (!value.is_ref()) {
    throw TypeError(std::string("expected a reference to a ") + KindName(kind) + ", got " +
                    value.type_name());
  }
  const ObjectRef& ref = value.as_ref();
  if (ref.kind != kind && (other_kind == Kind::kUnspecified || ref.kind != other_kind)) {
    throw TypeError(std::string("expected a reference to a ") + KindName(kind) +
                    ", got a reference to a " + KindName(ref.kind));
  }
  handle_ = detail::OwningHandle(ref);
  if (handle_ == nullptr) {
    throw ValueError(std::string("the reference to ") + KindName(ref.kind) + " " +
                     std::to_string(ref.id) +
                     " was not returned by a Manager; attach to it with its token instead");
  }
}

uint64_t ObjectProxy::id() const { return handle_->id(); }

Kind ObjectProxy::kind() const { return handle_->kind(); }

std::string ObjectProxy::token() const {
  // The handle's own session, even an inherited one: the id is its server's.
  return detail::FormatToken(kind(), id(), handle_->session().incarnation());
}

detail::AsyncTarget ObjectProxy::async_target(Batch* batch) const {
  std::shared_ptr<detail::ObjectHandle> handle = detail::ObjectHandle::ForThisProcess(handle_);
  std::shared_ptr<detail::Outbox> outbox =
      batch != nullptr ? batch->outbox_ : handle->session().stream_outbox();
  return detail::AsyncTarget{std::move(handle), std::move(outbox)};
}

detail::AsyncTarget ObjectProxy::immediate_target() const {
  return detail::AsyncTarget{detail::ObjectHandle::ForThisProcess(handle_), nullptr};
}

Value ObjectProxy::ref() const { return Value(ObjectRef{id(), kind(), handle_}); }

std::string ObjectProxy::repr() const { return str(); }

std::string ObjectProxy::str() const {
  const detail::AsyncTarget target = immediate_target();
  detail::ClientSession& session = target.handle->session();
  switch (kind()) {
    case Kind::kNamespace:
      return NamespaceRepr(detail::ProxyAccess::Make<NamespaceProxy>(handle_));
    case Kind::kValue: {
      // Python prints a Value as Value('i', 5). Both calls go out before
      // either reply is awaited.
      Future<ObjectInfo> info = detail::DescribeAsync(session, id());
      v1::ObjectRequest request;
      request.set_id(id());
      Future<Value> value = detail::Start(session, nullptr, detail::method::ValueService::Get,
                                          request, detail::KeepAlive(), detail::ValueOf);
      const std::string typecode = info.get().typecode;
      return "Value(" + Value(typecode).repr() + ", " + value.get().repr() + ")";
    }
    default:
      return detail::DescribeAsync(session, id()).get().repr;
  }
}

}  // namespace shoal
