// Converts between shoal::Value and its wire form, shoal.v1.Value.
#ifndef SHOAL_SHARED_VALUE_CODEC_H_
#define SHOAL_SHARED_VALUE_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal {

// The most lists and dicts nested in one another in a value: deeper is
// refused with ValueError, by the client before it sends and by the server
// when it decodes, so a hostile message cannot exhaust the stack.
inline constexpr int kMaxValueDepth = 64;

// How much deeper than kMaxValueDepth a reply's value may be: a reply can
// wrap values the server holds in a few containers of its own (a list's
// copy, a dict's items as pairs in a list), and what the server took, the
// client must be able to read back.
inline constexpr int kReplyNesting = 4;

// The protobuf recursion limit for parsing a message that carries values.
// Each level of nesting takes up to three messages (a Value, its DictValue,
// an Entry), the innermost value one more, and the request or reply around
// the values a few: so a value one level too deep still parses, and is
// refused by DecodeValue with its clear message. protobuf's default limit,
// 100, would stop at 33 levels of dicts.
inline constexpr int kMaxMessageDepth = 3 * (kMaxValueDepth + kReplyNesting + 1) + 16;

// Parses bytes into message with kMaxMessageDepth as the recursion limit.
// Use it, not ParseFromString, for every message that may carry values.
bool ParseCarryingValues(absl::string_view bytes, google::protobuf::MessageLite* message);

// The error text for a message carrying values that did not parse: it is
// malformed, or nested far too deep for protobuf's recursion limit.
// what names the message ("request message").
std::string MalformedMessage(absl::string_view what);

// The error text for values nested deeper than kMaxValueDepth.
std::string TooDeepMessage();

// Decodes a wire value. Fails with TypeError for an unhashable dict key and
// ValueError for nesting past kMaxValueDepth, a reference without an id or
// with an unknown kind. A message with no field set decodes as None.
absl::StatusOr<Value> DecodeValue(const v1::Value& wire);

// Decodes a value of a reply, which may be nested up to kReplyNesting
// levels deeper than kMaxValueDepth; otherwise as DecodeValue.
absl::StatusOr<Value> DecodeReplyValue(const v1::Value& wire);

// Encodes a value; references keep their id and kind.
void EncodeValue(const Value& value, v1::Value* wire);

// Encodes a value for sending: as EncodeValue, but fails with ValueError
// (TooDeepMessage) when it is nested deeper than kMaxValueDepth, which the
// receiver would refuse.
absl::Status EncodeValueToSend(const Value& value, v1::Value* wire);

}  // namespace shoal

#endif  // SHOAL_SHARED_VALUE_CODEC_H_
