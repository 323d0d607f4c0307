#include "server/transport/tables.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/timeout.h"
#include "shared/error_kind.h"

namespace shoal::server {

namespace {

// The values of wire, each decoded by decode(item); the first error instead.
template <typename Decode>
absl::StatusOr<Value::List> DecodeAll(const google::protobuf::RepeatedPtrField<v1::Value>& wire,
                                      Decode decode) {
  Value::List out;
  out.reserve(wire.size());
  for (const v1::Value& item : wire) {
    absl::StatusOr<Value> value = decode(item);
    if (!value.ok()) return value.status();
    out.push_back(*std::move(value));
  }
  return out;
}

}  // namespace

absl::StatusOr<Value::List> StoreAll(const CallContext& context,
                                     const google::protobuf::RepeatedPtrField<v1::Value>& wire,
                                     Object& target) {
  return DecodeAll(wire, [&](const v1::Value& item) { return context.Store(item, target); });
}

absl::StatusOr<Value::List> ReadAll(const CallContext& context,
                                    const google::protobuf::RepeatedPtrField<v1::Value>& wire) {
  return DecodeAll(wire, [&](const v1::Value& item) { return context.Read(item); });
}

absl::Status GiveValue(const CallContext& context, absl::StatusOr<Value> value,
                       v1::ValueReply& out) {
  if (!value.ok()) return value.status();
  context.Give(*value, out.mutable_value());
  return absl::OkStatus();
}

absl::Status GiveValues(const CallContext& context, absl::StatusOr<Value::List> values,
                        v1::ValuesReply& out) {
  if (!values.ok()) return values.status();
  GiveAll(context, *values, out.mutable_values());
  return absl::OkStatus();
}

void GiveAll(const CallContext& context, const Value::List& values,
             google::protobuf::RepeatedPtrField<v1::Value>* wire) {
  wire->Reserve(static_cast<int>(values.size()));
  for (const Value& value : values) context.Give(value, wire->Add());
}

absl::StatusOr<std::optional<absl::Time>> DeadlineOf(CallContext& context, bool has_timeout,
                                                     double timeout) {
  if (!has_timeout) return std::optional<absl::Time>();
  std::optional<absl::Duration> duration = TimeoutFromSeconds(timeout);
  if (!duration.has_value()) {
    return error::ValueError(absl::StrCat("timeout must be a non-negative number of seconds, not ",
                                          timeout));
  }
  if (*duration == absl::InfiniteDuration()) {
    return std::optional<absl::Time>(absl::InfiniteFuture());
  }
  return std::optional<absl::Time>(context.core().timers().Now() + *duration);
}

void FillEmpty(const CallContext&, const Outcome&, v1::EmptyReply&) {}

void FillBool(const CallContext&, const Outcome& outcome, v1::BoolReply& out) {
  out.set_value(outcome.value.is_bool() && outcome.value.as_bool());
}

void FillAcquire(const CallContext&, const Outcome& outcome, v1::AcquireReply& out) {
  out.set_acquired(outcome.value.is_bool() && outcome.value.as_bool());
  out.set_fencing_token(outcome.fencing_token);
}

}  // namespace shoal::server
