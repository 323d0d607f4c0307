#include "server/transport/tables.h"

namespace shoal::server {

absl::StatusOr<Value::List> StoreAll(const CallContext& context,
                                     const google::protobuf::RepeatedPtrField<v1::Value>& wire,
                                     Object& target) {
  Value::List out;
  out.reserve(wire.size());
  for (const v1::Value& item : wire) {
    absl::StatusOr<Value> value = context.Store(item, target);
    if (!value.ok()) return value.status();
    out.push_back(*std::move(value));
  }
  return out;
}

absl::Status GiveValue(const CallContext& context, absl::StatusOr<Value> value,
                       v1::ValueReply& out) {
  if (!value.ok()) return value.status();
  context.Give(*value, out.mutable_value());
  return absl::OkStatus();
}

void GiveAll(const CallContext& context, const Value::List& values,
             google::protobuf::RepeatedPtrField<v1::Value>* wire) {
  wire->Reserve(static_cast<int>(values.size()));
  for (const Value& value : values) context.Give(value, wire->Add());
}

}  // namespace shoal::server
