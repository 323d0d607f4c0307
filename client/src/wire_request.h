// Requests written straight to their wire form, for the calls that carry
// values: what protobuf would write, without building its messages.
#ifndef SHOAL_CLIENT_SRC_WIRE_REQUEST_H_
#define SHOAL_CLIENT_SRC_WIRE_REQUEST_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "client/src/connection.h"
#include "shoal/pipeline.h"
#include "shoal/value.h"

namespace shoal::detail {

// Appends a length-delimited field numbered number whose bytes are value's
// serialized v1::Value; ValueError for a value that cannot be sent (nested
// too deep). scratch is a buffer to reuse.
void AppendValueField(int number, const Value& value, std::string* scratch, std::string* out);

// A request to the target's object with its id (field 1 of every object
// request) written, for the caller to append the rest.
SerializedRequest ObjectRequestBytes(const AsyncTarget& target);

// A request to the target's object (its id, field 1) carrying each value in
// its message field; none when a value holds an object reference (those go
// through EncodeArg, which keeps what they refer to alive until the reply).
std::optional<SerializedRequest> ValuesRequest(
    const AsyncTarget& target, std::initializer_list<std::pair<int, const Value*>> fields);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_WIRE_REQUEST_H_
