#include "shoal/namespace_proxy.h"

#include <utility>

#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/v1/namespace.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {

using detail::ClientSession;
using detail::KeepAlive;

Value NamespaceProxy::get(const std::string& attr) const {
  v1::AttrRequest request;
  request.set_id(id());
  request.set_attr(attr);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.NamespaceService/GetAttr", request,
                                                 KeepAlive(), detail::ValueOf);
}

void NamespaceProxy::set(const std::string& attr, const Value& value) {
  v1::SetAttrRequest request;
  request.set_id(id());
  request.set_attr(attr);
  KeepAlive keep_alive;
  detail::EncodeArg(value, request.mutable_value(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.NamespaceService/SetAttr", request,
                                          std::move(keep_alive));
}

void NamespaceProxy::del(const std::string& attr) {
  v1::AttrRequest request;
  request.set_id(id());
  request.set_attr(attr);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.NamespaceService/DelAttr", request);
}

std::vector<std::pair<std::string, Value>> NamespaceProxy::attrs() const {
  v1::ObjectRequest request;
  request.set_id(id());
  return handle().session().Call<v1::AttrsReply>(
      "/shoal.v1.NamespaceService/Attrs", request, KeepAlive(),
      [](ClientSession& session, v1::AttrsReply& reply) {
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
      });
}

}  // namespace shoal
