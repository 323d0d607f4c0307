// The Pool's packed values (pool.proto): a serialized ListValue whose records
// (field 1, its length, a Value) are read in their wire form, without a
// protobuf message per value. Plain functions; safe from any thread.
#ifndef SHOAL_SHARED_PACKED_VALUES_H_
#define SHOAL_SHARED_PACKED_VALUES_H_

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shared/utf8.h"
#include "shared/value_codec.h"
#include "shoal/value.h"

namespace shoal {

// Protobuf's wire types used by packed values.
constexpr uint32_t kWireVarint = 0;
constexpr uint32_t kWireFixed64 = 1;
constexpr uint32_t kWireLengthDelimited = 2;

// The one-byte tag of a field numbered under 16.
constexpr char WireTag(int number, uint32_t type) {
  return static_cast<char>((static_cast<uint32_t>(number) << 3) | type);
}

// Reads protobuf wire format field by field.
class WireReader {
 public:
  explicit WireReader(absl::string_view bytes) : p_(bytes.data()), end_(p_ + bytes.size()) {}
  bool done() const { return p_ == end_; }
  const char* at() const { return p_; }

  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Varint(uint64_t* v) {
    // Tags, lengths and small numbers take one byte.
    if (p_ < end_ && (static_cast<uint8_t>(*p_) & 0x80) == 0) {
      *v = static_cast<uint8_t>(*p_++);
      return true;
    }
    *v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(*p_++);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  // A field's number and wire type; a length-delimited one's bytes, or a
  // varint's or fixed one's value (in *scalar when not null).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Field(uint32_t* number, uint32_t* type,
                                          absl::string_view* bytes, uint64_t* scalar = nullptr) {
    // Tags and lengths take at most 5 bytes, as protobuf's parser wants.
    const char* tag_at = p_;
    uint64_t tag = 0;
    if (!Varint(&tag) || p_ - tag_at > 5 || (tag >> 3) == 0 ||
        (tag >> 3) > std::numeric_limits<uint32_t>::max()) {
      return false;
    }
    *number = static_cast<uint32_t>(tag >> 3);
    *type = static_cast<uint32_t>(tag & 7);
    uint64_t n = 0;
    switch (*type) {
      case 0:
        if (!Varint(&n)) return false;
        break;
      case 1:
        if (!Fixed(8, &n)) return false;
        break;
      case 5:
        if (!Fixed(4, &n)) return false;
        break;
      case 2: {
        const char* length_at = p_;
        if (!Varint(&n) || p_ - length_at > 5 || n > static_cast<uint64_t>(end_ - p_)) {
          return false;
        }
        *bytes = absl::string_view(p_, static_cast<size_t>(n));
        p_ += n;
        return true;
      }
      default:
        return false;
    }
    if (scalar != nullptr) *scalar = n;
    return true;
  }

 private:
  bool Fixed(size_t n, uint64_t* v) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    *v = 0;
    for (size_t i = 0; i < n; ++i) *v |= static_cast<uint64_t>(static_cast<uint8_t>(p_[i])) << (8 * i);
    p_ += n;
    return true;
  }
  const char* p_;
  const char* end_;
};

// Reads a plain value (None, bool, int, float, str, bytes) straight from its
// serialized Value: one field, nothing else. With check_utf8, a str must be
// valid UTF-8, as protobuf's parser wants it. Calls make with the arguments
// that construct the Value (none for None), so that the caller may build it
// in place. False for anything else (a list, a dict, a reference, an empty
// or odd message), left to v1::Value.
template <typename Make>
inline bool ReadPlainValue(absl::string_view bytes, bool check_utf8, Make&& make) {
  WireReader in(bytes);
  uint32_t number = 0, type = 0;
  absl::string_view part;
  uint64_t scalar = 0;
  if (!in.Field(&number, &type, &part, &scalar) || !in.done()) return false;
  switch (number) {
    case v1::Value::kNoneFieldNumber:
      if (type != kWireVarint) return false;
      make();
      return true;
    case v1::Value::kBoolFieldNumber:
      if (type != kWireVarint) return false;
      make(scalar != 0);
      return true;
    case v1::Value::kIntFieldNumber:
      if (type != kWireVarint) return false;
      make(static_cast<int64_t>(scalar));
      return true;
    case v1::Value::kFloatFieldNumber: {
      if (type != kWireFixed64) return false;
      double d = 0;
      std::memcpy(&d, &scalar, sizeof d);
      make(d);
      return true;
    }
    case v1::Value::kStrFieldNumber:
      if (type != kWireLengthDelimited) return false;
      if (check_utf8 && !IsValidUtf8(std::string_view(part.data(), part.size()))) return false;
      make(std::string(part));
      return true;
    case v1::Value::kBytesFieldNumber:
      if (type != kWireLengthDelimited) return false;
      make(Value::bytes(std::string(part)));
      return true;
    default:
      return false;
  }
}

// ReadPlainValue into *out.
inline bool DecodePlainValue(absl::string_view bytes, bool check_utf8, Value* out) {
  return ReadPlainValue(bytes, check_utf8,
                        [out](auto&&... args) { *out = Value(std::forward<decltype(args)>(args)...); });
}

// ReadPlainValue onto the end of *out (a sequence of Values with
// emplace_back: a Value::List, the server's list storage), built in place.
template <typename Items>
bool AppendPlainValue(absl::string_view bytes, bool check_utf8, Items* out) {
  return ReadPlainValue(bytes, check_utf8, [out](auto&&... args) {
    out->emplace_back(std::forward<decltype(args)>(args)...);
  });
}

// Decodes one serialized Value: a plain one (None, bool, int, float, str,
// bytes) straight from its wire form, any other through v1::Value
// (DecodeReplyValue). Packed values hold no object references.
inline absl::StatusOr<Value> DecodePackedValue(absl::string_view bytes) {
  if (bytes.empty()) return Value();
  if (Value plain; DecodePlainValue(bytes, /*check_utf8=*/false, &plain)) return plain;
  v1::Value wire;
  if (!ParseCarryingValues(bytes, &wire)) {
    return absl::InvalidArgumentError(MalformedMessage("packed value"));
  }
  return DecodeReplyValue(wire);
}

// Calls take(i, value bytes) for the i-th record of a packed ListValue;
// false when it is malformed.
template <typename Take>
bool ForEachRecord(absl::string_view list, Take take) {
  WireReader in(list);
  for (int i = 0; !in.done(); ++i) {
    uint32_t number = 0, type = 0;
    absl::string_view value;
    if (!in.Field(&number, &type, &value) ||
        number != static_cast<uint32_t>(v1::ListValue::kItemsFieldNumber) ||
        type != kWireLengthDelimited) {
      return false;
    }
    take(i, value);
  }
  return true;
}

// The bytes AppendVarint writes for v.
inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// The most bytes a varint takes.
inline constexpr size_t kMaxVarintBytes = 10;

// Writes v's varint at p, which has room for kMaxVarintBytes; returns the
// end of what it wrote.
inline char* PutVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// One append, not one per byte.
inline void AppendVarint(uint64_t v, std::string* out) {
  if (v < 0x80) {
    out->push_back(static_cast<char>(v));
    return;
  }
  char bytes[kMaxVarintBytes];
  out->append(bytes, PutVarint(v, bytes) - bytes);
}

// Appends a record (field 1, its length, bytes) to out.
inline void AppendRecord(absl::string_view bytes, std::string* out) {
  out->push_back('\x0a');
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// The bytes AppendPackedValue writes for a plain value (None, bool, int,
// float, str, bytes); nullopt for any other.
inline std::optional<size_t> PlainValueSize(const Value& value) {
  switch (value.type()) {
    case Value::Type::kNone:
    case Value::Type::kBool:
      return 2;
    case Value::Type::kInt:
      return 1 + VarintSize(static_cast<uint64_t>(value.as_int()));
    case Value::Type::kFloat:
      return 9;
    case Value::Type::kStr:
    case Value::Type::kBytes: {
      const size_t n = value.is_str() ? value.as_str().size() : value.as_bytes().size();
      return 1 + VarintSize(n) + n;
    }
    default:
      return std::nullopt;
  }
}

// Appends the serialized Value of value to out, as EncodeValueToSend would
// write it: a plain value directly, any other through v1::Value.
inline absl::Status AppendPackedValue(const Value& value, std::string* out) {
  switch (value.type()) {
    case Value::Type::kNone:
      out->push_back(WireTag(v1::Value::kNoneFieldNumber, kWireVarint));
      out->push_back('\x01');
      return absl::OkStatus();
    case Value::Type::kBool:
      out->push_back(WireTag(v1::Value::kBoolFieldNumber, kWireVarint));
      out->push_back(value.as_bool() ? '\x01' : '\x00');
      return absl::OkStatus();
    case Value::Type::kInt:
      out->push_back(WireTag(v1::Value::kIntFieldNumber, kWireVarint));
      AppendVarint(static_cast<uint64_t>(value.as_int()), out);
      return absl::OkStatus();
    case Value::Type::kFloat: {
      out->push_back(WireTag(v1::Value::kFloatFieldNumber, kWireFixed64));
      const double d = value.as_float();
      uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
      return absl::OkStatus();
    }
    case Value::Type::kStr:
    case Value::Type::kBytes: {
      const std::string& s = value.is_str() ? value.as_str() : value.as_bytes();
      out->push_back(WireTag(value.is_str() ? v1::Value::kStrFieldNumber : v1::Value::kBytesFieldNumber,
                             kWireLengthDelimited));
      AppendVarint(s.size(), out);
      out->append(s);
      return absl::OkStatus();
    }
    default: {
      v1::Value wire;
      absl::Status encoded = EncodeValueToSend(value, &wire);
      if (!encoded.ok()) return encoded;
      wire.AppendToString(out);
      return absl::OkStatus();
    }
  }
}

}  // namespace shoal

#endif  // SHOAL_SHARED_PACKED_VALUES_H_
