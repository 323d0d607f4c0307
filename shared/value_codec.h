// Converts between shoal::Value and its wire form, shoal.v1.Value.
#ifndef SHOAL_SHARED_VALUE_CODEC_H_
#define SHOAL_SHARED_VALUE_CODEC_H_

#include "absl/status/statusor.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace shoal {

// Nesting deeper than this is refused, so a hostile message cannot exhaust the
// stack.
inline constexpr int kMaxValueDepth = 64;

// Decodes a wire value. Fails with TypeError for an unhashable dict key and
// ValueError for nesting past kMaxValueDepth, a reference without an id or
// with an unknown kind. A message with no field set decodes as None.
absl::StatusOr<Value> DecodeValue(const v1::Value& wire);

// Encodes a value; references keep their id and kind.
void EncodeValue(const Value& value, v1::Value* wire);

}  // namespace shoal

#endif  // SHOAL_SHARED_VALUE_CODEC_H_
