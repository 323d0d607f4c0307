// ArrayService: rows over ArrayObject. An Array stores no Value as such, so
// the values a request carries are only read (a reference among them is the
// object's TypeError, like any other value of the wrong type).
#include "server/objects/array_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/array.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.ArrayService";

template <typename Req, typename Resp>
Method Op(absl::string_view name,
          std::function<absl::Status(CallContext&, ArrayObject&, const Req&, Resp&)> fn) {
  return ObjectRow<ArrayObject, Req, Resp>(kService, name, Kind::kArray, std::move(fn));
}

// The most items a reply can carry: each takes at least 4 bytes on the wire
// (the smallest Value, inside its repeated field). A larger slice is refused
// before its items are made, rather than once they would not fit.
int64_t MaxReplyItems(const CallContext& c) { return c.core().options().max_message_bytes / 4; }

std::vector<Method> Rows() {
  using v1::EmptyReply;
  using v1::IntReply;
  using v1::ObjectRequest;
  using v1::ValueReply;
  using v1::ValuesReply;
  std::vector<Method> rows;
  rows.push_back(Op<v1::ArrayIndexRequest, ValueReply>(
      "GetItem",
      [](CallContext& c, ArrayObject& a, const v1::ArrayIndexRequest& r, ValueReply& out) {
        return GiveValue(c, a.GetItem(r.index()), out);
      }));
  rows.push_back(Op<v1::ArraySetItemRequest, EmptyReply>(
      "SetItem", [](CallContext& c, ArrayObject& a, const v1::ArraySetItemRequest& r, EmptyReply&) {
        absl::StatusOr<Value> value = c.Read(r.value());
        return value.ok() ? a.SetItem(r.index(), *value) : value.status();
      }));
  rows.push_back(Op<v1::ArraySliceRequest, ValuesReply>(
      "GetSlice",
      [](CallContext& c, ArrayObject& a, const v1::ArraySliceRequest& r, ValuesReply& out) {
        return GiveValues(c, a.GetSlice(StartOf(r), StopOf(r), StepOf(r), MaxReplyItems(c)),
                          out);
      }));
  rows.push_back(Op<v1::ArraySetSliceRequest, EmptyReply>(
      "SetSlice",
      [](CallContext& c, ArrayObject& a, const v1::ArraySetSliceRequest& r, EmptyReply&) {
        absl::StatusOr<Value::List> values = ReadAll(c, r.values());
        if (!values.ok()) return values.status();
        return a.SetSlice(StartOf(r), StopOf(r), StepOf(r), *values);
      }));
  rows.push_back(Op<ObjectRequest, IntReply>(
      "Len", [](CallContext&, ArrayObject& a, const ObjectRequest&, IntReply& out) {
        out.set_value(a.Len());
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, ValuesReply>(
      "ToList", [](CallContext& c, ArrayObject& a, const ObjectRequest&, ValuesReply& out) {
        return GiveValues(
            c, a.GetSlice(std::nullopt, std::nullopt, std::nullopt, MaxReplyItems(c)), out);
      }));
  rows.push_back(Op<ObjectRequest, v1::TypecodeReply>(
      "Typecode",
      [](CallContext&, ArrayObject& a, const ObjectRequest&, v1::TypecodeReply& out) {
        out.set_typecode(a.typecode());
        out.set_itemsize(a.itemsize());
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& ArrayTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server
