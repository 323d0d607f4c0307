#include "shared/packed_values.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shared/value_codec.h"
#include "shoal/v1/value.pb.h"

namespace shoal {
namespace {

// Each value packed as a record, read back: plain values straight from the
// wire, the others through v1::Value, all as DecodeValue reads them.
TEST(PackedValuesTest, RecordsDecodeAsTheirValues) {
  const std::vector<Value> values = {
      Value(),       Value(true),         Value(false),
      Value(0),      Value(-7),           Value(int64_t{1} << 62),
      Value(2.5),    Value("héllo"),      Value(""),
      Value::bytes(std::string("\0\xff", 2)),
      Value(Value::List{Value(1), Value("two"), Value(Value::List{Value(3.0)})})};
  v1::ListValue list;
  for (const Value& v : values) EncodeValue(v, list.add_items());
  const std::string packed = list.SerializeAsString();
  std::vector<Value> got;
  EXPECT_TRUE(ForEachRecord(packed, [&](int i, absl::string_view bytes) {
    EXPECT_EQ(i, static_cast<int>(got.size()));
    absl::StatusOr<Value> v = DecodePackedValue(bytes);
    ASSERT_TRUE(v.ok()) << v.status();
    got.push_back(*v);
  }));
  EXPECT_EQ(got, values);

  // Written directly, the records are the bytes protobuf writes.
  std::string written;
  std::string one;
  for (const Value& v : values) {
    one.clear();
    ASSERT_TRUE(AppendPackedValue(v, &one).ok());
    AppendRecord(one, &written);
  }
  EXPECT_EQ(written, packed);
}

TEST(PackedValuesTest, MalformedRecordsAreRefused) {
  EXPECT_FALSE(ForEachRecord(std::string("\x0a\x05\x18", 3), [](int, absl::string_view) {}));
  EXPECT_FALSE(ForEachRecord(std::string("\x10\x01", 2), [](int, absl::string_view) {}));
  EXPECT_FALSE(DecodePackedValue(std::string("\x3a\x05\x0a", 3)).ok());
}

// A plain value's size is known before it is written, and it is read back
// built in place as DecodePlainValue reads it.
TEST(PackedValuesTest, PlainValuesHaveTheSizeWrittenAndAreBuiltInPlace) {
  const std::vector<Value> plain = {Value(),         Value(true),  Value(int64_t{-1}),
                                    Value(int64_t{300}), Value(0.5), Value(std::string(200, 's')),
                                    Value::bytes("b")};
  Value::List built;
  for (const Value& value : plain) {
    std::string bytes;
    ASSERT_TRUE(AppendPackedValue(value, &bytes).ok());
    std::optional<size_t> size = PlainValueSize(value);
    ASSERT_TRUE(size.has_value());
    EXPECT_EQ(*size, bytes.size());
    ASSERT_TRUE(AppendPlainValue(bytes, /*check_utf8=*/true, &built));
    Value decoded;
    ASSERT_TRUE(DecodePlainValue(bytes, /*check_utf8=*/true, &decoded));
    EXPECT_EQ(decoded, built.back());
    EXPECT_EQ(built.back(), value);
  }
  EXPECT_FALSE(PlainValueSize(Value(Value::List{Value(1)})).has_value());
  // Not plain, or not UTF-8: left alone.
  std::string list_bytes;
  ASSERT_TRUE(AppendPackedValue(Value(Value::List{Value(1)}), &list_bytes).ok());
  EXPECT_FALSE(AppendPlainValue(list_bytes, true, &built));
  EXPECT_FALSE(AppendPlainValue(std::string("\x2a\x01\xff", 3), true, &built));
  EXPECT_EQ(built.size(), plain.size());
}

}  // namespace
}  // namespace shoal
