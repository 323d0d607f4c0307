#include "server/objects/namespace_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/namespace.pb.h"

namespace shoal::server {
namespace {

template <typename Req, typename Resp>
Method Op(absl::string_view name,
          std::function<absl::Status(CallContext&, NamespaceObject&, const Req&, Resp&)> fn) {
  return ObjectRow<NamespaceObject, Req, Resp>("shoal.v1.NamespaceService", name,
                                               Kind::kNamespace, std::move(fn));
}

std::vector<Method> Rows() {
  using v1::AttrRequest;
  using v1::EmptyReply;
  using v1::ValueReply;
  std::vector<Method> rows;
  rows.push_back(Op<AttrRequest, ValueReply>(
      "GetAttr", [](CallContext& c, NamespaceObject& ns, const AttrRequest& r, ValueReply& out) {
        absl::StatusOr<Value> value = ns.GetAttr(r.attr());
        if (!value.ok()) return value.status();
        c.Give(*value, out.mutable_value());
        return absl::OkStatus();
      }));
  rows.push_back(Op<v1::SetAttrRequest, EmptyReply>(
      "SetAttr",
      [](CallContext& c, NamespaceObject& ns, const v1::SetAttrRequest& r, EmptyReply&) {
        absl::StatusOr<Value> value = c.Store(r.value(), ns);
        return value.ok() ? ns.SetAttr(r.attr(), *std::move(value)) : value.status();
      }));
  rows.push_back(Op<AttrRequest, EmptyReply>(
      "DelAttr", [](CallContext&, NamespaceObject& ns, const AttrRequest& r, EmptyReply&) {
        return ns.DelAttr(r.attr());
      }));
  rows.push_back(Op<v1::ObjectRequest, v1::AttrsReply>(
      "Attrs",
      [](CallContext& c, NamespaceObject& ns, const v1::ObjectRequest&, v1::AttrsReply& out) {
        for (const auto& [name, value] : ns.Attrs()) {
          v1::Attr* attr = out.add_attrs();
          attr->set_name(name);
          c.Give(value, attr->mutable_value());
        }
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& NamespaceTable() {
  static const DispatchTable* table = new DispatchTable("shoal.v1.NamespaceService", Rows());
  return *table;
}

}  // namespace shoal::server
