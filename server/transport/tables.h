// The dispatch table of each service that operates on objects, and of the
// Manager service. Each table is built once, on first use.
#ifndef SHOAL_SERVER_TRANSPORT_TABLES_H_
#define SHOAL_SERVER_TRANSPORT_TABLES_H_

#include <optional>

#include "google/protobuf/repeated_field.h"
#include "server/transport/dispatch.h"
#include "shoal/v1/object.pb.h"

namespace shoal::server {

const DispatchTable& ListTable();
const DispatchTable& DictTable();
const DispatchTable& NamespaceTable();
const DispatchTable& ValueTable();
const DispatchTable& ManagerTable();

// Decodes repeated wire values for storing in target, failing on the first bad one.
absl::StatusOr<Value::List> StoreAll(const CallContext& context,
                                     const google::protobuf::RepeatedPtrField<v1::Value>& wire,
                                     Object& target);
// Puts a value, or the error that stands in its place, into a ValueReply.
absl::Status GiveValue(const CallContext& context, absl::StatusOr<Value> value,
                       v1::ValueReply& out);
// Encodes values into a repeated reply field, giving the session their references.
void GiveAll(const CallContext& context, const Value::List& values,
             google::protobuf::RepeatedPtrField<v1::Value>* wire);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_TABLES_H_
