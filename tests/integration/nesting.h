// Values nested in lists, as Values and as the bytes of requests, for the
// tests of the nesting limit. The bytes are written by hand, level by level,
// so that a test can send a value nested far deeper than the limit without
// building (and recursing through) a message that deep.
#ifndef SHOAL_TESTS_INTEGRATION_NESTING_H_
#define SHOAL_TESTS_INTEGRATION_NESTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/value.h"

namespace shoal::testing {

// depth lists, each the only item of the one around it, around the int 1.
inline Value NestedLists(int depth) {
  Value v(1);
  for (int i = 0; i < depth; ++i) v = Value(Value::List{v});
  return v;
}

// depth dicts, each the value of the key "k" of the one around it, around 1.
inline Value NestedDicts(int depth) {
  Value v(1);
  for (int i = 0; i < depth; ++i) {
    ValueDict d;
    d.set(Value("k"), v);
    v = Value(std::move(d));
  }
  return v;
}

namespace nesting_internal {

inline std::string Varint(uint64_t n) {
  std::string out;
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out;
}

// A length-delimited field: its tag byte (field < 16), length and bytes.
inline std::string Field(int field, const std::string& bytes) {
  return std::string(1, static_cast<char>(field << 3 | 2)) + Varint(bytes.size()) + bytes;
}

}  // namespace nesting_internal

// The wire bytes of the shoal.v1.Value NestedLists(depth).
inline std::string NestedListBytes(int depth) {
  using nesting_internal::Varint;
  // Value{int: 1}, then each level: Value{list: ListValue{items: [inner]}}.
  // The headers are made inside out and written outside in.
  const std::string inner = "\x18\x01";
  std::vector<std::string> headers;
  uint64_t size = inner.size();
  for (int i = 0; i < depth; ++i) {
    const std::string items_header = "\x0a" + Varint(size);  // ListValue.items = 1
    const uint64_t list_size = items_header.size() + size;
    const std::string list_header = "\x3a" + Varint(list_size);  // Value.list = 7
    headers.push_back(list_header + items_header);
    size = list_header.size() + list_size;
  }
  std::string out;
  out.reserve(size);
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) out += *it;
  return out + inner;
}

// The bytes of an ItemRequest{name, item: NestedLists(depth)}: the request
// of ListService/Append on the list called name.
inline std::string AppendNestedRequest(const std::string& name, int depth) {
  using nesting_internal::Field;
  return Field(2, name) + Field(3, NestedListBytes(depth));
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_NESTING_H_
