#include "shared/value_codec.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "shared/error_kind.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

Value Ref(uint64_t id, Kind kind) {
  ObjectRef ref;
  ref.id = id;
  ref.kind = kind;
  return Value(ref);
}

// Encodes, sends through the binary wire format, and decodes.
Value RoundTrip(const Value& value) {
  v1::Value wire;
  EncodeValue(value, &wire);
  std::string bytes;
  EXPECT_TRUE(wire.SerializeToString(&bytes));
  v1::Value parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  absl::StatusOr<Value> decoded = DecodeValue(parsed);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  return decoded.ok() ? *decoded : Value("decode failed");
}

// A wire value of `levels` lists, each holding the next, around an int.
v1::Value NestedLists(int levels) {
  v1::Value wire;
  wire.set_int_(1);
  for (int i = 0; i < levels; ++i) {
    v1::Value outer;
    *outer.mutable_list()->add_items() = wire;
    wire = outer;
  }
  return wire;
}

TEST(ValueCodecTest, ScalarsUseTheirOneofField) {
  v1::Value wire;
  EncodeValue(Value(), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kNone);
  EncodeValue(Value(true), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kBool);
  EXPECT_TRUE(wire.bool_());
  EncodeValue(Value(-5), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kInt);
  EXPECT_EQ(wire.int_(), -5);
  EncodeValue(Value(2.5), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kFloat);
  EXPECT_EQ(wire.float_(), 2.5);
  EncodeValue(Value("s"), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kStr);
  EXPECT_EQ(wire.str(), "s");
  EncodeValue(Value::bytes("b"), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kBytes);
  EXPECT_EQ(wire.bytes(), "b");
  EncodeValue(Ref(7, Kind::kQueue), &wire);
  EXPECT_EQ(wire.kind_case(), v1::Value::kRef);
  EXPECT_EQ(wire.ref().id(), 7u);
  EXPECT_EQ(wire.ref().kind(), v1::QUEUE);
}

TEST(ValueCodecTest, EncodingReplacesEarlierContents) {
  v1::Value wire;
  EncodeValue(Value::list({1, 2, 3}), &wire);
  EncodeValue(Value::list({9}), &wire);
  ASSERT_EQ(wire.kind_case(), v1::Value::kList);
  EXPECT_EQ(wire.list().items_size(), 1);
}

TEST(ValueCodecTest, EmptyMessageDecodesAsNone) {
  absl::StatusOr<Value> decoded = DecodeValue(v1::Value());
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->is_none());
}

TEST(ValueCodecTest, ScalarsRoundTripWithTheirTypes) {
  EXPECT_TRUE(RoundTrip(Value()).is_none());
  EXPECT_TRUE(RoundTrip(Value(false)).is_bool());
  EXPECT_EQ(RoundTrip(Value(std::numeric_limits<int64_t>::min())).as_int(),
            std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(RoundTrip(Value(1.0)).is_float());
  EXPECT_TRUE(std::isnan(RoundTrip(Value(std::nan(""))).as_float()));
  EXPECT_EQ(RoundTrip(Value(-0.0)).repr(), "-0.0");
  EXPECT_EQ(RoundTrip(Value("caf\xc3\xa9")).as_str(), "caf\xc3\xa9");
  EXPECT_EQ(RoundTrip(Value::bytes(std::string("\x00\xff", 2))).as_bytes(),
            std::string("\x00\xff", 2));
  Value ref = RoundTrip(Ref(42, Kind::kJoinableQueue));
  ASSERT_TRUE(ref.is_ref());
  EXPECT_EQ(ref.as_ref().id, 42u);
  EXPECT_EQ(ref.as_ref().kind, Kind::kJoinableQueue);
  EXPECT_EQ(RoundTrip(Ref(43, Kind::kArray)).as_ref().kind, Kind::kArray);
}

TEST(ValueCodecTest, NestedValuesRoundTrip) {
  Value original = Value::dict({
      {"list", Value::list({1, 2.5, "x", Value::bytes("raw"), Value(), true})},
      {1, Value::dict({{"inner", Value::list({Value::list({}), Value::dict({})})}})},
      {2.5, Ref(5, Kind::kDict)},
      {Ref(6, Kind::kLock), Value::bytes("")},
      {Value::bytes("k"), "str"},
  });
  Value decoded = RoundTrip(original);
  EXPECT_EQ(decoded, original);
  // repr tells 1 from 1.0 and keeps order, which == does not check.
  EXPECT_EQ(decoded.repr(), original.repr());
}

TEST(ValueCodecTest, DuplicateDictKeyKeepsFirstKeyAndLastValue) {
  v1::Value wire;
  auto* entries = wire.mutable_dict()->mutable_entries();
  v1::Entry* e = entries->Add();
  e->mutable_key()->set_int_(1);
  e->mutable_value()->set_str("a");
  e = entries->Add();
  e->mutable_key()->set_int_(2);
  e->mutable_value()->set_str("b");
  e = entries->Add();
  e->mutable_key()->set_float_(1.0);
  e->mutable_value()->set_str("c");
  absl::StatusOr<Value> decoded = DecodeValue(wire);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->repr(), "{1: 'c', 2: 'b'}");
}

TEST(ValueCodecTest, UnhashableKeyIsTypeError) {
  v1::Value wire;
  v1::Entry* e = wire.mutable_dict()->add_entries();
  e->mutable_key()->mutable_list()->add_items()->set_int_(1);
  e->mutable_value()->set_int_(2);
  absl::StatusOr<Value> decoded = DecodeValue(wire);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(ErrorKindOf(decoded.status()), ErrorKind::kTypeError);
  EXPECT_EQ(decoded.status().message(), "unhashable type: 'list'");

  v1::Value dict_key;
  dict_key.mutable_dict()->add_entries()->mutable_key()->mutable_dict();
  EXPECT_EQ(ErrorKindOf(DecodeValue(dict_key).status()), ErrorKind::kTypeError);
}

TEST(ValueCodecTest, DepthLimit) {
  absl::StatusOr<Value> ok = DecodeValue(NestedLists(kMaxValueDepth));
  ASSERT_TRUE(ok.ok()) << ok.status();
  Value v = *ok;
  for (int i = 0; i < kMaxValueDepth; ++i) v = v.as_list().at(0);
  EXPECT_EQ(v, Value(1));

  absl::StatusOr<Value> too_deep = DecodeValue(NestedLists(kMaxValueDepth + 1));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(ErrorKindOf(too_deep.status()), ErrorKind::kValueError);

  // Dicts count toward the depth as lists do.
  v1::Value wire = NestedLists(kMaxValueDepth);
  v1::Value outer;
  *outer.mutable_dict()->add_entries()->mutable_value() = wire;
  EXPECT_EQ(ErrorKindOf(DecodeValue(outer).status()), ErrorKind::kValueError);
}

v1::Value NestedDicts(int levels) {
  v1::Value wire;
  wire.set_int_(1);
  for (int i = 0; i < levels; ++i) {
    v1::Value outer;
    v1::Entry* entry = outer.mutable_dict()->add_entries();
    entry->mutable_key()->set_str("k");
    *entry->mutable_value() = wire;
    wire = outer;
  }
  return wire;
}

// A message carrying a value (the ItemRequest of ListService/Append).
std::string Carrying(const v1::Value& item) {
  v1::ItemRequest request;
  request.set_name("list");
  *request.mutable_item() = item;
  return request.SerializeAsString();
}

TEST(ValueCodecTest, TooDeepIsAValueErrorNamingTheLimit) {
  absl::StatusOr<Value> too_deep = DecodeValue(NestedDicts(kMaxValueDepth + 1));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(ErrorKindOf(too_deep.status()), ErrorKind::kValueError);
  EXPECT_EQ(too_deep.status().message(), "values nested deeper than 64 levels");
}

// A message whose value is one level too deep still parses, whether it nests
// lists or dicts (three messages a level), so that the codec, not protobuf's
// recursion limit, refuses it with its message; protobuf's default limit
// would not even parse 64 levels of dicts.
TEST(ValueCodecTest, MessagesCarryingValuesParseOneLevelPastTheLimit) {
  for (const v1::Value& wire : {NestedLists(kMaxValueDepth + 1), NestedDicts(kMaxValueDepth + 1)}) {
    v1::ItemRequest parsed;
    ASSERT_TRUE(ParseCarryingValues(Carrying(wire), &parsed));
    EXPECT_EQ(DecodeValue(parsed.item()).status().message(), "values nested deeper than 64 levels");
  }
  v1::ItemRequest parsed;
  ASSERT_TRUE(ParseCarryingValues(Carrying(NestedDicts(kMaxValueDepth)), &parsed));
  EXPECT_TRUE(DecodeValue(parsed.item()).ok());
  v1::ItemRequest by_default;
  EXPECT_FALSE(by_default.ParseFromString(Carrying(NestedDicts(kMaxValueDepth))));
}

TEST(ValueCodecTest, FarTooDeepOrMalformedMessagesDoNotParse) {
  // 1,000 levels: past the recursion limit, refused without recursing on.
  v1::ItemRequest parsed;
  EXPECT_FALSE(ParseCarryingValues(Carrying(NestedLists(1000)), &parsed));
  EXPECT_FALSE(ParseCarryingValues(std::string("\xff\xff\xff\xff\xff", 5), &parsed));
  EXPECT_EQ(MalformedMessage("request message"),
            "malformed request message, or values nested deeper than 64 levels");
}

TEST(ValueCodecTest, EncodingToSendRefusesWhatTheReceiverWould) {
  Value v(1);
  for (int i = 0; i < kMaxValueDepth; ++i) v = Value(Value::List{v});
  v1::Value wire;
  ASSERT_TRUE(EncodeValueToSend(v, &wire).ok());
  EXPECT_EQ(*DecodeValue(wire), v);

  const Value deeper(Value::List{v});
  absl::Status status = EncodeValueToSend(deeper, &wire);
  EXPECT_EQ(ErrorKindOf(status), ErrorKind::kValueError);
  EXPECT_EQ(status.message(), "values nested deeper than 64 levels");
  ValueDict d;
  d.set(Value("k"), v);
  EXPECT_EQ(ErrorKindOf(EncodeValueToSend(Value(std::move(d)), &wire)), ErrorKind::kValueError);
  // EncodeValue itself has no limit.
  EncodeValue(deeper, &wire);
  ASSERT_EQ(wire.list().items_size(), 1);
  EXPECT_EQ(*DecodeValue(wire.list().items(0)), v);
}

TEST(ValueCodecTest, InvalidRefsAreValueErrors) {
  v1::Value no_id;
  no_id.mutable_ref()->set_kind(v1::LIST);
  absl::StatusOr<Value> decoded = DecodeValue(no_id);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(ErrorKindOf(decoded.status()), ErrorKind::kValueError);

  v1::Value unspecified;
  unspecified.mutable_ref()->set_id(3);
  EXPECT_EQ(ErrorKindOf(DecodeValue(unspecified).status()), ErrorKind::kValueError);

  v1::Value unknown;
  unknown.mutable_ref()->set_id(3);
  unknown.mutable_ref()->set_kind(static_cast<v1::Kind>(99));
  EXPECT_EQ(ErrorKindOf(DecodeValue(unknown).status()), ErrorKind::kValueError);

  // An invalid ref deep inside fails the whole value.
  v1::Value nested;
  *nested.mutable_list()->add_items() = no_id;
  EXPECT_EQ(ErrorKindOf(DecodeValue(nested).status()), ErrorKind::kValueError);
}

}  // namespace
}  // namespace shoal
