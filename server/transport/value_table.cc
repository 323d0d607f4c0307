#include "server/objects/value_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/shared_value.pb.h"

namespace shoal::server {
namespace {

template <typename Req, typename Resp>
Method Op(absl::string_view name,
          std::function<absl::Status(CallContext&, ValueObject&, const Req&, Resp&)> fn) {
  return ObjectRow<ValueObject, Req, Resp>("shoal.v1.ValueService", name, Kind::kValue,
                                           std::move(fn));
}

std::vector<Method> Rows() {
  using v1::EmptyReply;
  using v1::ValueReply;
  std::vector<Method> rows;
  rows.push_back(WireValueRow<ValueObject, v1::ObjectRequest>(
      "shoal.v1.ValueService", "Get", Kind::kValue,
      [](CallContext&, ValueObject& v, absl::string_view) -> absl::StatusOr<Value> {
        return v.Get();
      }));
  rows.push_back(Op<v1::SetValueRequest, EmptyReply>(
      "Set", [](CallContext& c, ValueObject& v, const v1::SetValueRequest& r, EmptyReply&) {
        absl::StatusOr<Value> value = c.Store(r.value(), v);
        return value.ok() ? v.Set(*std::move(value)) : value.status();
      }));
  rows.push_back(WireValueRow<ValueObject, v1::AddRequest>(
      "shoal.v1.ValueService", "Add", Kind::kValue,
      [](CallContext& c, ValueObject& v, absl::string_view request) -> absl::StatusOr<Value> {
        WireParts delta_parts[1];
        if (!WireFields(request, {v1::AddRequest::kDeltaFieldNumber}, delta_parts)) {
          return MalformedRequest();
        }
        Value delta;
        if (absl::Status read = ReadWireValue(c, delta_parts[0], &delta); !read.ok()) return read;
        return v.Add(delta);
      }));
  rows.push_back(Op<v1::CompareAndSwapRequest, v1::CompareAndSwapReply>(
      "CompareAndSwap", [](CallContext& c, ValueObject& v, const v1::CompareAndSwapRequest& r,
                           v1::CompareAndSwapReply& out) {
        absl::StatusOr<Value> expected = c.Read(r.expected());
        if (!expected.ok()) return expected.status();
        absl::StatusOr<Value> desired = c.Store(r.desired(), v);
        if (!desired.ok()) return desired.status();
        absl::StatusOr<std::pair<bool, Value>> result =
            v.CompareAndSwap(*expected, *std::move(desired));
        if (!result.ok()) return result.status();
        out.set_swapped(result->first);
        c.Give(result->second, out.mutable_value());
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& ValueTable() {
  static const DispatchTable* table = new DispatchTable("shoal.v1.ValueService", Rows());
  return *table;
}

}  // namespace shoal::server
