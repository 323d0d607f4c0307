#include "shoal/value.h"

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/errors.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kTwoTo53 = int64_t{1} << 53;

Value Ref(uint64_t id, Kind kind) {
  ObjectRef ref;
  ref.id = id;
  ref.kind = kind;
  return Value(ref);
}

// Python's hash() as a signed number, which is how CPython prints it.
int64_t PyHash(const Value& v) { return static_cast<int64_t>(v.hash()); }

TEST(KindNameTest, NamesArePythonTypeids) {
  EXPECT_STREQ(KindName(Kind::kList), "list");
  EXPECT_STREQ(KindName(Kind::kDict), "dict");
  EXPECT_STREQ(KindName(Kind::kNamespace), "Namespace");
  EXPECT_STREQ(KindName(Kind::kValue), "Value");
  EXPECT_STREQ(KindName(Kind::kLock), "Lock");
  EXPECT_STREQ(KindName(Kind::kRLock), "RLock");
  EXPECT_STREQ(KindName(Kind::kSemaphore), "Semaphore");
  EXPECT_STREQ(KindName(Kind::kBoundedSemaphore), "BoundedSemaphore");
  EXPECT_STREQ(KindName(Kind::kCondition), "Condition");
  EXPECT_STREQ(KindName(Kind::kEvent), "Event");
  EXPECT_STREQ(KindName(Kind::kBarrier), "Barrier");
  EXPECT_STREQ(KindName(Kind::kQueue), "Queue");
  EXPECT_STREQ(KindName(Kind::kJoinableQueue), "JoinableQueue");
  EXPECT_STREQ(KindName(Kind::kArray), "Array");
  EXPECT_STREQ(KindName(Kind::kPool), "Pool");
  EXPECT_STREQ(KindName(Kind::kConnection), "Connection");
  EXPECT_STREQ(KindName(Kind::kPipe), "Pipe");
  EXPECT_STREQ(KindName(Kind::kUnspecified), "unknown");
  EXPECT_STREQ(KindName(static_cast<Kind>(99)), "unknown");
}

TEST(ValueTest, TypesAndTypeNames) {
  EXPECT_EQ(Value().type(), Value::Type::kNone);
  EXPECT_EQ(Value(nullptr).type(), Value::Type::kNone);
  EXPECT_STREQ(Value().type_name(), "NoneType");
  EXPECT_STREQ(Value(true).type_name(), "bool");
  EXPECT_STREQ(Value(3).type_name(), "int");
  EXPECT_STREQ(Value(int64_t{3}).type_name(), "int");
  EXPECT_STREQ(Value(3u).type_name(), "int");
  EXPECT_STREQ(Value(2.5).type_name(), "float");
  EXPECT_STREQ(Value("s").type_name(), "str");
  EXPECT_STREQ(Value(std::string("s")).type_name(), "str");
  EXPECT_STREQ(Value(std::string_view("s")).type_name(), "str");
  EXPECT_STREQ(Value::bytes("b").type_name(), "bytes");
  EXPECT_STREQ(Value::list({}).type_name(), "list");
  EXPECT_STREQ(Value::dict({}).type_name(), "dict");
  EXPECT_STREQ(Ref(1, Kind::kLock).type_name(), "Lock");
  EXPECT_TRUE(Value(true).is_number());
  EXPECT_TRUE(Value(1).is_number());
  EXPECT_TRUE(Value(1.0).is_number());
  EXPECT_FALSE(Value("1").is_number());
}

TEST(ValueTest, AccessorsReturnTheirType) {
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_EQ(Value(-7).as_int(), -7);
  EXPECT_EQ(Value(2.5).as_float(), 2.5);
  EXPECT_EQ(Value("text").as_str(), "text");
  EXPECT_EQ(Value::bytes(std::string("a\0b", 3)).as_bytes(), std::string("a\0b", 3));
  EXPECT_EQ(Value::list({1, 2}).as_list().size(), 2u);
  EXPECT_EQ(Value::dict({{"a", 1}}).as_dict().size(), 1u);
  EXPECT_EQ(Ref(9, Kind::kEvent).as_ref().id, 9u);
  EXPECT_EQ(Ref(9, Kind::kEvent).as_ref().kind, Kind::kEvent);
}

TEST(ValueTest, NumericAccessorsWiden) {
  EXPECT_EQ(Value(true).as_int(), 1);
  EXPECT_EQ(Value(false).as_int(), 0);
  EXPECT_EQ(Value(true).as_float(), 1.0);
  EXPECT_EQ(Value(3).as_float(), 3.0);
  EXPECT_THROW(Value(1).as_bool(), TypeError);
  EXPECT_THROW(Value(1.0).as_int(), TypeError);
}

TEST(ValueTest, AccessorOfWrongTypeThrowsTypeErrorWithPythonMessage) {
  try {
    Value("x").as_int();
    FAIL() << "as_int on a str did not throw";
  } catch (const TypeError& e) {
    EXPECT_STREQ(e.what(), "expected int, got str");
    EXPECT_EQ(e.kind(), "TypeError");
  }
  try {
    Value().as_list();
    FAIL() << "as_list on None did not throw";
  } catch (const TypeError& e) {
    EXPECT_STREQ(e.what(), "expected list, got NoneType");
  }
  EXPECT_THROW(Value::bytes("x").as_str(), TypeError);
  EXPECT_THROW(Value("x").as_bytes(), TypeError);
  EXPECT_THROW(Value::list({}).as_dict(), TypeError);
  EXPECT_THROW(Value::dict({}).as_list(), TypeError);
  EXPECT_THROW(Value(1).as_ref(), TypeError);
  EXPECT_THROW(Value(1).as_str(), TypeError);
  EXPECT_THROW(Value("1").as_float(), TypeError);
  Value mutable_str("x");
  EXPECT_THROW(mutable_str.as_list(), TypeError);
  EXPECT_THROW(mutable_str.as_dict(), TypeError);
}

TEST(ValueTest, Truthiness) {
  EXPECT_FALSE(Value().truthy());
  EXPECT_FALSE(Value(false).truthy());
  EXPECT_TRUE(Value(true).truthy());
  EXPECT_FALSE(Value(0).truthy());
  EXPECT_TRUE(Value(-1).truthy());
  EXPECT_FALSE(Value(0.0).truthy());
  EXPECT_FALSE(Value(-0.0).truthy());
  EXPECT_TRUE(Value(kNaN).truthy());
  EXPECT_FALSE(Value("").truthy());
  EXPECT_TRUE(Value("0").truthy());
  EXPECT_FALSE(Value::bytes("").truthy());
  EXPECT_TRUE(Value::bytes(std::string(1, '\0')).truthy());
  EXPECT_FALSE(Value::list({}).truthy());
  EXPECT_TRUE(Value::list({Value()}).truthy());
  EXPECT_FALSE(Value::dict({}).truthy());
  EXPECT_TRUE(Value::dict({{0, 0}}).truthy());
  EXPECT_TRUE(Ref(1, Kind::kList).truthy());
}

TEST(ValueEqualityTest, BoolIntFloatAreEqualAndHashAlike) {
  Value one_int(1), one_float(1.0), one_bool(true);
  EXPECT_EQ(one_int, one_float);
  EXPECT_EQ(one_float, one_bool);
  EXPECT_EQ(one_bool, one_int);
  EXPECT_EQ(one_int.hash(), one_float.hash());
  EXPECT_EQ(one_int.hash(), one_bool.hash());
  EXPECT_EQ(Value(0), Value(false));
  EXPECT_EQ(Value(0), Value(-0.0));
  EXPECT_EQ(Value(0.0).hash(), Value(-0.0).hash());
  EXPECT_EQ(Value(false).hash(), Value(0.0).hash());
  EXPECT_NE(Value(1), Value(1.5));
  EXPECT_NE(Value(true), Value(2));
}

TEST(ValueEqualityTest, IntAndFloatCompareExactly) {
  // 2**53 + 1 is not a double: the nearest double is 2**53, which must not
  // compare equal to it as a conversion to double would claim.
  Value big_int(kTwoTo53 + 1);
  Value big_float(static_cast<double>(kTwoTo53));
  EXPECT_NE(big_int, big_float);
  EXPECT_NE(big_float, big_int);
  EXPECT_THAT(Value::Compare(big_int, big_float), Optional(1));
  EXPECT_THAT(Value::Compare(big_float, big_int), Optional(-1));
  EXPECT_NE(big_int.hash(), big_float.hash());
  EXPECT_EQ(Value(kTwoTo53), big_float);
  EXPECT_EQ(Value(kTwoTo53).hash(), big_float.hash());

  // INT64_MAX rounds to 2**63 as a double, yet is smaller than it.
  Value max_int(std::numeric_limits<int64_t>::max());
  Value two_to_63(std::ldexp(1.0, 63));
  EXPECT_NE(max_int, two_to_63);
  EXPECT_THAT(Value::Compare(max_int, two_to_63), Optional(-1));
  Value min_int(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(min_int, Value(-std::ldexp(1.0, 63)));
  EXPECT_EQ(min_int.hash(), Value(-std::ldexp(1.0, 63)).hash());

  EXPECT_THAT(Value::Compare(Value(2), Value(2.5)), Optional(-1));
  EXPECT_THAT(Value::Compare(Value(3), Value(2.5)), Optional(1));
  EXPECT_THAT(Value::Compare(Value(-2), Value(-2.5)), Optional(1));
  EXPECT_THAT(Value::Compare(Value(-3), Value(-2.5)), Optional(-1));
  EXPECT_THAT(Value::Compare(Value(5), Value(kInf)), Optional(-1));
  EXPECT_THAT(Value::Compare(Value(5), Value(-kInf)), Optional(1));
}

TEST(ValueEqualityTest, NaNEqualsNothingAndOrdersAsNeither) {
  EXPECT_NE(Value(kNaN), Value(kNaN));
  EXPECT_NE(Value(kNaN), Value(0));
  EXPECT_NE(Value(0), Value(kNaN));
  EXPECT_THAT(Value::Compare(Value(kNaN), Value(1)), Optional(0));
  EXPECT_THAT(Value::Compare(Value(1), Value(kNaN)), Optional(0));
  EXPECT_THAT(Value::Compare(Value(kNaN), Value(1.0)), Optional(0));
}

TEST(ValueEqualityTest, StrAndBytesDiffer) {
  EXPECT_EQ(Value("abc"), Value(std::string("abc")));
  EXPECT_NE(Value("abc"), Value("abd"));
  EXPECT_NE(Value("abc"), Value::bytes("abc"));
  EXPECT_EQ(Value::bytes("abc"), Value::bytes("abc"));
  EXPECT_NE(Value("1"), Value(1));
  EXPECT_EQ(Value("abc").hash(), Value(std::string("abc")).hash());
}

TEST(ValueEqualityTest, NoneEqualsOnlyNone) {
  EXPECT_EQ(Value(), Value(nullptr));
  EXPECT_NE(Value(), Value(0));
  EXPECT_NE(Value(), Value(false));
  EXPECT_NE(Value(), Value(""));
  EXPECT_NE(Value(), Value::list({}));
  EXPECT_EQ(Value().hash(), Value(nullptr).hash());
}

TEST(ValueEqualityTest, ContainersCompareByContent) {
  EXPECT_EQ(Value::list({1, 2.0, "x"}), Value::list({1.0, 2, "x"}));
  EXPECT_NE(Value::list({1, 2}), Value::list({2, 1}));
  EXPECT_NE(Value::list({1, 2}), Value::list({1, 2, 3}));
  EXPECT_EQ(Value::dict({{"a", 1}, {"b", 2}}), Value::dict({{"b", 2}, {"a", 1.0}}));
  EXPECT_NE(Value::dict({{"a", 1}}), Value::dict({{"a", 2}}));
  EXPECT_NE(Value::dict({{"a", 1}}), Value::dict({{"b", 1}}));
  EXPECT_NE(Value::dict({{"a", 1}}), Value::dict({{"a", 1}, {"b", 1}}));
  EXPECT_EQ(Value::dict({{1, "x"}}), Value::dict({{1.0, "x"}}));
  EXPECT_NE(Value::list({}), Value::dict({}));
  EXPECT_EQ(Value::list({Value::list({1}), Value::dict({{"k", Value::list({})}})}),
            Value::list({Value::list({1}), Value::dict({{"k", Value::list({})}})}));
}

TEST(ValueEqualityTest, RefsAreEqualById) {
  EXPECT_EQ(Ref(7, Kind::kList), Ref(7, Kind::kList));
  EXPECT_NE(Ref(7, Kind::kList), Ref(8, Kind::kList));
  EXPECT_EQ(Ref(7, Kind::kList).hash(), Ref(7, Kind::kList).hash());
  EXPECT_NE(Ref(7, Kind::kList), Value(7));
}

TEST(ValueHashTest, MatchesCPython) {
  // Each expected number is what CPython 3 prints for hash() of the value.
  EXPECT_EQ(PyHash(Value(1)), 1);
  EXPECT_EQ(PyHash(Value(-1)), -2);
  EXPECT_EQ(PyHash(Value(-2)), -2);
  EXPECT_EQ(PyHash(Value((int64_t{1} << 61) - 1)), 0);
  EXPECT_EQ(PyHash(Value(int64_t{1} << 61)), 1);
  EXPECT_EQ(PyHash(Value(std::numeric_limits<int64_t>::min())), -4);
  EXPECT_EQ(PyHash(Value(1.5)), 1152921504606846977);
  EXPECT_EQ(PyHash(Value(0.5)), 1152921504606846976);
  EXPECT_EQ(PyHash(Value(-1.5)), -1152921504606846977);
  EXPECT_EQ(PyHash(Value(0.1)), 230584300921369408);
  EXPECT_EQ(PyHash(Value(-0.1)), -230584300921369408);
  EXPECT_EQ(PyHash(Value(1e100)), 1822893315824342674);
  EXPECT_EQ(PyHash(Value(1e-300)), 482449582752280463);
  EXPECT_EQ(PyHash(Value(std::ldexp(1.0, 62))), 2);
  EXPECT_EQ(PyHash(Value(kInf)), 314159);
  EXPECT_EQ(PyHash(Value(-kInf)), -314159);
  EXPECT_EQ(PyHash(Value(-1.0)), -2);
}

TEST(ValueHashTest, ContainersAreUnhashable) {
  EXPECT_FALSE(Value::list({}).hashable());
  EXPECT_FALSE(Value::dict({}).hashable());
  EXPECT_TRUE(Value().hashable());
  EXPECT_TRUE(Value(1).hashable());
  EXPECT_TRUE(Value("s").hashable());
  EXPECT_TRUE(Value::bytes("b").hashable());
  EXPECT_TRUE(Ref(1, Kind::kDict).hashable());
  EXPECT_THROW(Value::list({}).hash(), TypeError);
  EXPECT_THROW(Value::dict({}).hash(), TypeError);
}

TEST(ValueCompareTest, OrdersLikePython) {
  EXPECT_THAT(Value::Compare(Value(1), Value(2)), Optional(-1));
  EXPECT_THAT(Value::Compare(Value(2), Value(2.0)), Optional(0));
  EXPECT_THAT(Value::Compare(Value(true), Value(2)), Optional(-1));
  EXPECT_THAT(Value::Compare(Value(false), Value(-0.5)), Optional(1));
  EXPECT_THAT(Value::Compare(Value(2.5), Value(1.5)), Optional(1));
  EXPECT_THAT(Value::Compare(Value("a"), Value("b")), Optional(-1));
  EXPECT_THAT(Value::Compare(Value("ab"), Value("a")), Optional(1));
  EXPECT_THAT(Value::Compare(Value("x"), Value("x")), Optional(0));
  // Code point order: U+00E9 sorts after 'z'; UTF-8 bytes must not be read
  // as signed chars.
  EXPECT_THAT(Value::Compare(Value("\xc3\xa9"), Value("z")), Optional(1));
  EXPECT_THAT(Value::Compare(Value::bytes("\xff"), Value::bytes("\x01")), Optional(1));
  EXPECT_THAT(Value::Compare(Value::bytes(""), Value::bytes(std::string(1, '\0'))), Optional(-1));
}

TEST(ValueCompareTest, ListsOrderLexicographically) {
  EXPECT_THAT(Value::Compare(Value::list({1, 2}), Value::list({1, 3})), Optional(-1));
  EXPECT_THAT(Value::Compare(Value::list({1, 2}), Value::list({1, 2, 0})), Optional(-1));
  EXPECT_THAT(Value::Compare(Value::list({1, 2, 0}), Value::list({1, 2})), Optional(1));
  EXPECT_THAT(Value::Compare(Value::list({}), Value::list({})), Optional(0));
  EXPECT_THAT(Value::Compare(Value::list({1, 2}), Value::list({1.0, 2.0})), Optional(0));
  EXPECT_THAT(Value::Compare(Value::list({Value::list({1})}), Value::list({Value::list({0, 9})})),
              Optional(1));
  // Items that are equal are skipped with ==, even when they do not order.
  EXPECT_THAT(Value::Compare(Value::list({Value(), 1}), Value::list({Value(), 2})), Optional(-1));
  EXPECT_THAT(Value::Compare(Value::list({Value::dict({})}), Value::list({Value::dict({})})),
              Optional(0));
  // The first unequal pair decides, and later items are never looked at.
  EXPECT_THAT(Value::Compare(Value::list({1, "a"}), Value::list({2, 3})), Optional(-1));
  EXPECT_EQ(Value::Compare(Value::list({1, "a"}), Value::list({1, 2})), std::nullopt);
  EXPECT_EQ(Value::Compare(Value::list({Value()}), Value::list({1})), std::nullopt);
}

TEST(ValueCompareTest, UnorderableTypesGiveNullopt) {
  EXPECT_EQ(Value::Compare(Value("1"), Value(1)), std::nullopt);
  EXPECT_EQ(Value::Compare(Value(1), Value("1")), std::nullopt);
  EXPECT_EQ(Value::Compare(Value(), Value()), std::nullopt);
  EXPECT_EQ(Value::Compare(Value(), Value(0)), std::nullopt);
  EXPECT_EQ(Value::Compare(Value::dict({}), Value::dict({})), std::nullopt);
  EXPECT_EQ(Value::Compare(Ref(1, Kind::kList), Ref(2, Kind::kList)), std::nullopt);
  EXPECT_EQ(Value::Compare(Value("a"), Value::bytes("a")), std::nullopt);
  EXPECT_EQ(Value::Compare(Value::list({}), Value("")), std::nullopt);
}

TEST(ValueReprTest, Scalars) {
  EXPECT_EQ(Value().repr(), "None");
  EXPECT_EQ(Value(true).repr(), "True");
  EXPECT_EQ(Value(false).repr(), "False");
  EXPECT_EQ(Value(0).repr(), "0");
  EXPECT_EQ(Value(-42).repr(), "-42");
  EXPECT_EQ(Value(std::numeric_limits<int64_t>::min()).repr(), "-9223372036854775808");
}

TEST(ValueReprTest, FloatsUseShortestRoundTripDigits) {
  // The expected strings are CPython's repr() of the same doubles.
  EXPECT_EQ(Value(2.5).repr(), "2.5");
  EXPECT_EQ(Value(1.0).repr(), "1.0");
  EXPECT_EQ(Value(0.0).repr(), "0.0");
  EXPECT_EQ(Value(-0.0).repr(), "-0.0");
  EXPECT_EQ(Value(0.1).repr(), "0.1");
  EXPECT_EQ(Value(123.456).repr(), "123.456");
  EXPECT_EQ(Value(1e15).repr(), "1000000000000000.0");
  EXPECT_EQ(Value(9007199254740993.0).repr(), "9007199254740992.0");
  EXPECT_EQ(Value(1e16).repr(), "1e+16");
  EXPECT_EQ(Value(1e22).repr(), "1e+22");
  EXPECT_EQ(Value(1.2345678901234568e+17).repr(), "1.2345678901234568e+17");
  EXPECT_EQ(Value(0.0001).repr(), "0.0001");
  EXPECT_EQ(Value(1e-5).repr(), "1e-05");
  EXPECT_EQ(Value(-1.5e-7).repr(), "-1.5e-07");
  EXPECT_EQ(Value(1.5e300).repr(), "1.5e+300");
  EXPECT_EQ(Value(5e-324).repr(), "5e-324");
  EXPECT_EQ(Value(1.7976931348623157e308).repr(), "1.7976931348623157e+308");
  EXPECT_EQ(Value(kInf).repr(), "inf");
  EXPECT_EQ(Value(-kInf).repr(), "-inf");
  EXPECT_EQ(Value(kNaN).repr(), "nan");
  EXPECT_EQ(Value(-kNaN).repr(), "nan");
}

TEST(ValueReprTest, StrQuotingAndEscapes) {
  EXPECT_EQ(Value("").repr(), "''");
  EXPECT_EQ(Value("abc").repr(), "'abc'");
  EXPECT_EQ(Value("it's").repr(), "\"it's\"");
  EXPECT_EQ(Value("say \"hi\"").repr(), "'say \"hi\"'");
  EXPECT_EQ(Value("it's \"x\"").repr(), "'it\\'s \"x\"'");
  EXPECT_EQ(Value("a\\b").repr(), "'a\\\\b'");
  EXPECT_EQ(Value("\n\r\t").repr(), "'\\n\\r\\t'");
  EXPECT_EQ(Value(std::string("\x00\x01\x1b\x7f", 4)).repr(), "'\\x00\\x01\\x1b\\x7f'");
  EXPECT_EQ(Value("caf\xc3\xa9 \xf0\x9f\x90\x9f").repr(), "'caf\xc3\xa9 \xf0\x9f\x90\x9f'");
  // U+0085 is a C1 control character, which Python escapes.
  EXPECT_EQ(Value("\xc2\x85").repr(), "'\\x85'");
  // Bytes that are not UTF-8 are shown escaped instead of passed through.
  EXPECT_EQ(Value("a\xff").repr(), "'a\\xff'");
}

TEST(ValueReprTest, Bytes) {
  EXPECT_EQ(Value::bytes("").repr(), "b''");
  EXPECT_EQ(Value::bytes("raw").repr(), "b'raw'");
  EXPECT_EQ(Value::bytes(std::string("\x00\xff\"", 3)).repr(), "b'\\x00\\xff\"'");
  EXPECT_EQ(Value::bytes("it's").repr(), "b\"it's\"");
  EXPECT_EQ(Value::bytes("it's \"x\"").repr(), "b'it\\'s \"x\"'");
  EXPECT_EQ(Value::bytes("\\\n").repr(), "b'\\\\\\n'");
  EXPECT_EQ(Value::bytes("\xc3\xa9").repr(), "b'\\xc3\\xa9'");
}

TEST(ValueReprTest, ContainersAndRefs) {
  EXPECT_EQ(Value::list({}).repr(), "[]");
  EXPECT_EQ(Value::list({1, "a"}).repr(), "[1, 'a']");
  EXPECT_EQ(Value::list({Value::list({}), Value(), 1.0}).repr(), "[[], None, 1.0]");
  EXPECT_EQ(Value::dict({}).repr(), "{}");
  EXPECT_EQ(Value::dict({{"k", 1}, {2, Value::list({3})}}).repr(), "{'k': 1, 2: [3]}");
  EXPECT_EQ(Ref(7, Kind::kList).repr(), "<shoal list #7>");
  EXPECT_EQ(Ref(12, Kind::kJoinableQueue).repr(), "<shoal JoinableQueue #12>");
  EXPECT_EQ(Value::list({Ref(3, Kind::kLock)}).repr(), "[<shoal Lock #3>]");
}

TEST(ValueCopyOnWriteTest, ListCopiesAreIndependent) {
  Value a = Value::list({1, 2});
  Value b = a;
  // Unchanged copies share one list.
  EXPECT_EQ(&std::as_const(a).as_list(), &std::as_const(b).as_list());
  b.as_list().push_back(3);
  EXPECT_EQ(a.repr(), "[1, 2]");
  EXPECT_EQ(b.repr(), "[1, 2, 3]");
  a.as_list()[0] = "x";
  EXPECT_EQ(a.repr(), "['x', 2]");
  EXPECT_EQ(b.repr(), "[1, 2, 3]");
}

TEST(ValueCopyOnWriteTest, SoleOwnerIsNotCloned) {
  Value a = Value::list({1});
  Value::List* first = &a.as_list();
  EXPECT_EQ(&a.as_list(), first);
  Value d = Value::dict({{1, 2}});
  Value::Dict* first_dict = &d.as_dict();
  EXPECT_EQ(&d.as_dict(), first_dict);
}

TEST(ValueCopyOnWriteTest, DictCopiesAreIndependent) {
  Value a = Value::dict({{"k", 1}});
  Value b = a;
  b.as_dict().set("k", 2);
  b.as_dict().set("new", 3);
  EXPECT_EQ(a.repr(), "{'k': 1}");
  EXPECT_EQ(b.repr(), "{'k': 2, 'new': 3}");
  // The clone has its own index: lookups through it see its own entries.
  EXPECT_EQ(*b.as_dict().find("k"), Value(2));
  EXPECT_EQ(*std::as_const(a).as_dict().find("k"), Value(1));
}

TEST(ValueCopyOnWriteTest, NestedChangesDoNotLeakIntoCopies) {
  Value outer = Value::list({Value::list({1}), Value::dict({{"a", 1}})});
  Value copy = outer;
  copy.as_list()[0].as_list().push_back(2);
  copy.as_list()[1].as_dict().set("b", 2);
  EXPECT_EQ(outer.repr(), "[[1], {'a': 1}]");
  EXPECT_EQ(copy.repr(), "[[1, 2], {'a': 1, 'b': 2}]");
}

TEST(ValueTest, AssigningAPartOfItselfIsSafe) {
  // The source lives inside the list the assignment releases.
  Value v = Value::list({Value::list({"deep"}), 2});
  v = v.as_list()[0];
  EXPECT_EQ(v.repr(), "['deep']");
  v = std::move(v.as_list()[0]);
  EXPECT_EQ(v.repr(), "'deep'");
  Value d = Value::dict({{"k", Value::dict({{"j", 1}})}});
  d = *d.as_dict().find("k");
  EXPECT_EQ(d.repr(), "{'j': 1}");
  d = std::as_const(d).as_dict().begin()->second;
  EXPECT_EQ(d, Value(1));
}

TEST(ValueTest, MovingAnyValueOverAnyOtherLeavesTheMovedValue) {
  // Every type over every type: a list or a dict is released after the move,
  // any other value is replaced in one move.
  const std::vector<Value> samples = {Value(),
                                      true,
                                      -3,
                                      2.5,
                                      "a string longer than any small-string buffer",
                                      "short",
                                      Value::bytes("b"),
                                      Value::list({1, "two"}),
                                      Value::dict({{"k", Value::list({1})}}),
                                      Ref(7, Kind::kLock)};
  for (const Value& from : samples) {
    for (const Value& over : samples) {
      Value target = over;
      Value moved = from;
      target = std::move(moved);
      EXPECT_EQ(target, from) << from.repr() << " over " << over.repr();
      EXPECT_EQ(target.type(), from.type()) << from.repr() << " over " << over.repr();
    }
    // And a value moved onto itself stays as it was.
    Value self = from;
    Value& alias = self;
    self = std::move(alias);
    EXPECT_EQ(self, from) << from.repr();
  }
}

TEST(ValueTest, DictFactoryKeepsFirstKeyAndLastValue) {
  Value d = Value::dict({{1, "a"}, {"x", 0}, {1.0, "b"}});
  EXPECT_EQ(d.repr(), "{1: 'b', 'x': 0}");
  EXPECT_THROW(Value::dict({{Value::list({}), 1}}), TypeError);
}

TEST(ValueTest, ContainsRefAndForEachRef) {
  EXPECT_FALSE(Value(1).contains_ref());
  EXPECT_FALSE(Value::list({1, Value::dict({{"a", Value::list({})}})}).contains_ref());
  EXPECT_TRUE(Ref(1, Kind::kList).contains_ref());
  Value nested = Value::list(
      {1, Value::dict({{"a", Value::list({Ref(4, Kind::kQueue)})}, {Ref(5, Kind::kLock), 0}})});
  EXPECT_TRUE(nested.contains_ref());
  EXPECT_TRUE(Value::dict({{Ref(2, Kind::kEvent), 1}}).contains_ref());
  std::vector<uint64_t> ids;
  nested.ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_THAT(ids, ::testing::ElementsAre(4, 5));
}

TEST(ValueDictTest, KeepsInsertionOrder) {
  ValueDict d;
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(d.set("b", 1));
  EXPECT_TRUE(d.set("a", 2));
  EXPECT_TRUE(d.set(3, 3));
  std::vector<std::string> keys;
  for (const auto& [key, value] : d) keys.push_back(key.repr());
  EXPECT_THAT(keys, ::testing::ElementsAre("'b'", "'a'", "3"));
  EXPECT_EQ(d.size(), 3u);
}

TEST(ValueDictTest, OverwriteKeepsPositionAndOriginalKey) {
  ValueDict d;
  d.set(1, "one");
  d.set("x", "ex");
  EXPECT_FALSE(d.set(1.0, "uno"));
  EXPECT_FALSE(d.set(true, "si"));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.begin()->first.type(), Value::Type::kInt);
  EXPECT_EQ(d.begin()->second, Value("si"));
  EXPECT_EQ(Value(d).repr(), "{1: 'si', 'x': 'ex'}");
}

TEST(ValueDictTest, FindAndContains) {
  ValueDict d;
  d.set("k", 1);
  ASSERT_NE(d.find("k"), nullptr);
  EXPECT_EQ(*d.find("k"), Value(1));
  EXPECT_EQ(d.find(Value::bytes("k")), nullptr);
  EXPECT_TRUE(d.contains("k"));
  EXPECT_FALSE(d.contains("K"));
  *d.find("k") = 5;
  EXPECT_EQ(*std::as_const(d).find("k"), Value(5));
}

TEST(ValueDictTest, FindEntryIsWhereTheKeyStandsInOrder) {
  ValueDict d;
  d.set("a", 1);
  d.set(2, "b");
  d.set("c", 3);
  ValueDict::const_iterator entry = d.find_entry(2.0);  // 2 and 2.0 are one key
  ASSERT_NE(entry, d.end());
  EXPECT_EQ(entry->first, Value(2));
  EXPECT_EQ(entry->second, Value("b"));
  EXPECT_EQ(std::next(entry)->first, Value("c"));
  EXPECT_EQ(std::next(d.find_entry("c")), d.end());
  EXPECT_EQ(d.find_entry("missing"), d.end());
  d.set(kNaN, 4);
  EXPECT_EQ(d.find_entry(kNaN), d.end());  // unequal to itself: never found
}

TEST(ValueDictTest, TakeRemovesTheKey) {
  ValueDict d;
  d.set("a", 1);
  d.set("b", 2);
  d.set("c", 3);
  EXPECT_THAT(d.take("b"), Optional(Value(2)));
  EXPECT_EQ(d.take("b"), std::nullopt);
  EXPECT_FALSE(d.contains("b"));
  EXPECT_EQ(Value(d).repr(), "{'a': 1, 'c': 3}");
  // A key set again after removal goes to the end.
  d.set("b", 4);
  EXPECT_EQ(Value(d).repr(), "{'a': 1, 'c': 3, 'b': 4}");
}

TEST(ValueDictTest, PopLastRemovesTheNewestEntry) {
  ValueDict d;
  d.set("a", 1);
  d.set("b", 2);
  d.set("a", 3);  // overwriting does not make "a" the newest
  ValueDict::Entry last = d.pop_last();
  EXPECT_EQ(last.first, Value("b"));
  EXPECT_EQ(last.second, Value(2));
  EXPECT_FALSE(d.contains("b"));
  last = d.pop_last();
  EXPECT_EQ(last.first, Value("a"));
  EXPECT_EQ(last.second, Value(3));
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.contains("a"));
}

TEST(ValueDictTest, NaNKeysAreDistinctAndPopInOrder) {
  ValueDict d;
  d.set(kNaN, 1);
  d.set(kNaN, 2);  // NaN is unequal to itself, so this is a second key
  EXPECT_EQ(d.size(), 2u);
  EXPECT_FALSE(d.contains(kNaN));
  EXPECT_EQ(d.pop_last().second, Value(2));
  EXPECT_EQ(d.pop_last().second, Value(1));
  EXPECT_TRUE(d.empty());
}

TEST(ValueDictTest, Clear) {
  ValueDict d;
  d.set("a", 1);
  d.clear();
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.contains("a"));
  EXPECT_TRUE(d.set("a", 2));
  EXPECT_EQ(d.size(), 1u);
}

TEST(ValueDictTest, EqualityIgnoresOrder) {
  ValueDict a, b;
  a.set("x", 1);
  a.set("y", 2);
  b.set("y", 2.0);
  b.set("x", true);
  EXPECT_TRUE(a == b);
  b.set("x", 5);
  EXPECT_FALSE(a == b);
  b.set("x", 1);
  b.set("z", 1);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(b == a);
  EXPECT_TRUE(ValueDict() == ValueDict());
}

TEST(ValueDictTest, CopiesRebuildTheirIndex) {
  auto original = std::make_unique<ValueDict>();
  original->set("a", 1);
  original->set("b", 2);
  ValueDict copy(*original);
  ValueDict assigned;
  assigned.set("old", 0);
  assigned = *original;
  original.reset();  // an index pointing into the original would now dangle
  for (ValueDict* d : {&copy, &assigned}) {
    EXPECT_EQ(d->size(), 2u);
    EXPECT_FALSE(d->contains("old"));
    ASSERT_NE(d->find("b"), nullptr);
    EXPECT_EQ(*d->find("b"), Value(2));
    EXPECT_THAT(d->take("a"), Optional(Value(1)));
    EXPECT_FALSE(d->set("b", 3));
    EXPECT_EQ(Value(*d).repr(), "{'b': 3}");
  }
  ValueDict& self = copy;
  copy = self;
  EXPECT_EQ(Value(copy).repr(), "{'b': 3}");
}

TEST(ValueDictTest, MovesKeepTheIndex) {
  ValueDict d;
  d.set("a", 1);
  ValueDict moved(std::move(d));
  EXPECT_EQ(*moved.find("a"), Value(1));
  ValueDict target;
  target = std::move(moved);
  EXPECT_EQ(*target.find("a"), Value(1));
  EXPECT_FALSE(target.set("a", 2));
  EXPECT_EQ(target.size(), 1u);
}

// The order a dict should have, as a list of entries searched linearly with
// Python's ==: what ValueDict must agree with, whatever its layout.
class ReferenceDict {
 public:
  bool set(const Value& key, const Value& value) {
    for (auto& entry : entries_) {
      if (entry.first == key) {
        entry.second = value;
        return false;
      }
    }
    entries_.emplace_back(key, value);
    return true;
  }
  std::optional<Value> take(const Value& key) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first == key) {
        Value value = it->second;
        entries_.erase(it);
        return value;
      }
    }
    return std::nullopt;
  }
  const Value* find(const Value& key) const {
    for (const auto& entry : entries_) {
      if (entry.first == key) return &entry.second;
    }
    return nullptr;
  }
  std::pair<Value, Value> pop_last() {
    std::pair<Value, Value> last = entries_.back();
    entries_.pop_back();
    return last;
  }
  void clear() { entries_.clear(); }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<Value, Value>> entries_;
};

// The entries of d in iteration order, keys and values by repr (which tells
// 1 from 1.0 and True, and shows NaN).
std::vector<std::string> Reprs(const ValueDict& d) {
  std::vector<std::string> out;
  for (const auto& [key, value] : d) out.push_back(key.repr() + ": " + value.repr());
  return out;
}

std::vector<std::string> Reprs(const ReferenceDict& d) {
  std::vector<std::string> out;
  for (const auto& [key, value] : d.entries()) out.push_back(key.repr() + ": " + value.repr());
  return out;
}

TEST(ValueDictTest, RandomOperationsAgreeWithAListOfEntries) {
  std::mt19937 random(20261202);
  // Keys from a small pool, so that sets hit existing keys, removals find
  // them, and the same key comes back in another type (1, 1.0, True).
  auto random_key = [&random]() -> Value {
    const int n = static_cast<int>(random() % 300);
    switch (random() % 8) {
      case 0:
        return static_cast<double>(n);
      case 1:
        return n == 0 || n == 1 ? Value(n == 1) : Value(n);
      case 2:
        return "k" + std::to_string(n);
      case 3:
        return Value::bytes("k" + std::to_string(n));
      case 4:
        return n % 50 == 0 ? Value(kNaN) : Value(n + 0.5);
      default:
        return n;
    }
  };
  ValueDict d;
  ReferenceDict model;
  for (int step = 0; step < 40000; ++step) {
    const Value key = random_key();
    const uint32_t op = random() % 100;
    if (op < 50) {
      const Value value = step;
      ASSERT_EQ(d.set(key, value), model.set(key, value)) << "step " << step;
    } else if (op < 85) {
      ASSERT_EQ(d.take(key), model.take(key)) << "step " << step;
    } else if (op < 95) {
      const Value* found = d.find(key);
      const Value* expected = model.find(key);
      ASSERT_EQ(found != nullptr, expected != nullptr) << "step " << step;
      if (found != nullptr) ASSERT_EQ(*found, *expected) << "step " << step;
      ASSERT_EQ(d.contains(key), expected != nullptr);
      ASSERT_EQ(d.find_entry(key) != d.end(), expected != nullptr);
    } else if (op < 99) {
      if (!d.empty()) {
        ValueDict::Entry last = d.pop_last();
        std::pair<Value, Value> expected = model.pop_last();
        ASSERT_EQ(last.first.repr(), expected.first.repr()) << "step " << step;
        ASSERT_EQ(last.second, expected.second) << "step " << step;
      }
    } else if (step % 3 == 0) {
      d.clear();
      model.clear();
    } else {
      ValueDict copy(d);
      d = std::move(copy);
    }
    ASSERT_EQ(d.size(), model.entries().size()) << "step " << step;
    if (step % 16 == 0 || op >= 95) ASSERT_EQ(Reprs(d), Reprs(model)) << "step " << step;
  }
  EXPECT_EQ(Reprs(d), Reprs(model));
}

TEST(ValueDictTest, OrderAfterRemovalsAndReinsertions) {
  ValueDict d;
  for (int i = 0; i < 6; ++i) d.set(i, i);
  EXPECT_THAT(d.take(1), Optional(Value(1)));
  EXPECT_THAT(d.take(4), Optional(Value(4)));
  d.set(1, "again");  // a key removed and set again goes to the end
  d.set(3, "three");  // a key that stayed keeps its place
  EXPECT_THAT(Reprs(d), ::testing::ElementsAre("0: 0", "2: 2", "3: 'three'", "5: 5", "1: 'again'"));
  EXPECT_THAT(d.take(0), Optional(Value(0)));  // the first entry
  EXPECT_EQ(d.begin()->first, Value(2));
  EXPECT_EQ(std::prev(d.end())->first, Value(1));
}

TEST(ValueDictTest, OneAndOnePointZeroAndTrueAreOneKey) {
  ValueDict d;
  EXPECT_TRUE(d.set(true, "a"));
  EXPECT_FALSE(d.set(1, "b"));
  EXPECT_FALSE(d.set(1.0, "c"));
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(Value(d).repr(), "{True: 'c'}");
  EXPECT_THAT(d.take(1.0), Optional(Value("c")));
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(d.set(1.0, "d"));
  EXPECT_EQ(Value(d).repr(), "{1.0: 'd'}");
  EXPECT_EQ(*d.find(true), Value("d"));
  EXPECT_TRUE(d.set(0, "zero"));
  EXPECT_FALSE(d.set(false, "no"));
  EXPECT_FALSE(d.set(-0.0, "minus zero"));
  EXPECT_EQ(Value(d).repr(), "{1.0: 'd', 0: 'minus zero'}");
}

TEST(ValueDictTest, NaNKeysStayThroughRemovalsAndSqueezes) {
  ValueDict d;
  d.set(kNaN, "first");
  for (int i = 0; i < 100; ++i) d.set(i, i);
  d.set(kNaN, "second");
  EXPECT_EQ(d.size(), 102u);
  EXPECT_EQ(d.take(kNaN), std::nullopt);  // never found by a lookup
  // Removing most keys squeezes the holes out; the NaN entries move with the
  // others, and stay in order.
  for (int i = 0; i < 100; ++i) {
    if (i != 50) d.take(i);
  }
  EXPECT_THAT(Reprs(d), ::testing::ElementsAre("nan: 'first'", "50: 50", "nan: 'second'"));
  EXPECT_EQ(d.find_entry(kNaN), d.end());
  // pop_last finds the entry by its position, not by its key.
  ValueDict::Entry last = d.pop_last();
  EXPECT_EQ(last.first.repr(), "nan");
  EXPECT_EQ(last.second, Value("second"));
  EXPECT_THAT(d.take(50), Optional(Value(50)));
  last = d.pop_last();
  EXPECT_EQ(last.second, Value("first"));
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.begin(), d.end());
}

TEST(ValueDictTest, SqueezingHolesKeepsTheOrder) {
  ValueDict d;
  for (int i = 0; i < 1000; ++i) d.set("k" + std::to_string(i), i);
  // Keep every tenth key: the holes outnumber the entries many times over
  // on the way, so the array is squeezed more than once.
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    if (i % 10 == 0) {
      expected.push_back("'k" + std::to_string(i) + "': " + std::to_string(i));
    } else {
      ASSERT_THAT(d.take("k" + std::to_string(i)), Optional(Value(i)));
    }
  }
  EXPECT_EQ(Reprs(d), expected);
  for (int i = 0; i < 1000; i += 10) {
    ASSERT_NE(d.find("k" + std::to_string(i)), nullptr) << i;
    EXPECT_EQ(*d.find("k" + std::to_string(i)), Value(i));
  }
  d.set("k5", "new");
  EXPECT_FALSE(d.set("k0", "zero"));
  EXPECT_EQ(d.begin()->second, Value("zero"));
  EXPECT_EQ(std::prev(d.end())->first, Value("k5"));
  EXPECT_EQ(d.size(), 101u);
}

TEST(ValueDictTest, PopLastSkipsHolesAtTheEnd) {
  ValueDict d;
  for (int i = 0; i < 20; ++i) d.set(i, i);
  for (int i = 5; i < 19; ++i) d.take(i);
  EXPECT_EQ(d.pop_last().first, Value(19));
  EXPECT_EQ(d.pop_last().first, Value(4));  // the removed keys in between are skipped
  EXPECT_EQ(d.size(), 4u);
  d.set("new", 1);
  EXPECT_THAT(Reprs(d), ::testing::ElementsAre("0: 0", "1: 1", "2: 2", "3: 3", "'new': 1"));
}

TEST(ValueDictTest, QueueLikeUseStaysLinear) {
  // Adding at the end and removing the oldest, through begin(), the way a
  // FIFO would: each step must not walk the holes left at the front, nor
  // each removal move the rest. 200,000 steps take milliseconds when it
  // holds, and far longer than the test's timeout when it does not.
  ValueDict d;
  for (int i = 0; i < 1000; ++i) d.set(i, i);
  for (int i = 1000; i < 200000; ++i) {
    d.set(i, i);
    const Value oldest = d.begin()->first;
    ASSERT_EQ(oldest, Value(i - 1000));
    ASSERT_TRUE(d.take(oldest).has_value());
  }
  EXPECT_EQ(d.size(), 1000u);
  // And removing from the end, each pop_last after many removals before it.
  for (int i = 199000; i < 199990; ++i) d.take(i);
  for (int i = 199999; i >= 199990; --i) ASSERT_EQ(d.pop_last().first, Value(i));
  EXPECT_TRUE(d.empty());
}

TEST(ValueDictTest, ClearThenReuse) {
  ValueDict d;
  for (int i = 0; i < 100; ++i) d.set(i, i);
  for (int i = 0; i < 50; ++i) d.take(i);
  d.clear();
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.begin(), d.end());
  EXPECT_EQ(d.find(60), nullptr);
  EXPECT_TRUE(d.set(60, "back"));
  EXPECT_TRUE(d.set(1, "one"));
  EXPECT_THAT(Reprs(d), ::testing::ElementsAre("60: 'back'", "1: 'one'"));
}

TEST(ValueDictTest, CopiesWithHolesAreEqualAndIndependent) {
  ValueDict d;
  for (int i = 0; i < 10; ++i) d.set(i, i * 10);
  d.take(3);
  d.take(7);
  ValueDict copy(d);
  EXPECT_TRUE(copy == d);
  EXPECT_EQ(Reprs(copy), Reprs(d));
  copy.set(3, 30);  // back, at the end: equal still, order aside
  EXPECT_FALSE(copy == d);
  d.set(3, 30.0);
  EXPECT_TRUE(copy == d);
  copy.set(4, "changed");
  EXPECT_FALSE(copy == d);
  EXPECT_EQ(*d.find(4), Value(40));
  ValueDict assigned;
  assigned.set("old", 1);
  assigned = d;
  EXPECT_EQ(Reprs(assigned), Reprs(d));
  EXPECT_FALSE(assigned.contains("old"));
}

TEST(ValueDictTest, IteratorsWalkForwardAndBack) {
  ValueDict d;
  d.set("a", 1);
  d.set("b", 2);
  d.set("c", 3);
  d.take("b");
  ValueDict::iterator it = d.begin();
  ValueDict::const_iterator const_it = it;  // an iterator converts
  EXPECT_EQ(const_it, d.begin());
  ++it;
  EXPECT_EQ(it->first, Value("c"));
  it->second = 30;  // values can be changed in place
  EXPECT_EQ(*d.find("c"), Value(30));
  --it;
  EXPECT_EQ(it->first, Value("a"));
  EXPECT_EQ(std::distance(d.begin(), d.end()), 2);
  EXPECT_EQ(std::next(std::as_const(d).begin(), 1)->first, Value("c"));
}

TEST(ValueDictTest, HashedCallsAreFindAndSet) {
  ValueDict d;
  const Value one = 1;
  EXPECT_TRUE(d.set_hashed(one, "a", one.hash()));
  const Value one_float = 1.0;
  EXPECT_FALSE(d.set_hashed(one_float, "b", one_float.hash()));
  ASSERT_NE(d.find_hashed(true, Value(true).hash()), nullptr);
  EXPECT_EQ(*d.find_hashed(true, Value(true).hash()), Value("b"));
  EXPECT_EQ(d.find_hashed("x", Value("x").hash()), nullptr);
  EXPECT_EQ(Value(d).repr(), "{1: 'b'}");
}

TEST(ValueDictTest, ReserveKeepsEntriesAndOrder) {
  ValueDict d;
  d.set("a", 1);
  d.set("b", 2);
  d.take("a");
  d.reserve(1000);
  for (int i = 0; i < 1000; ++i) d.set(i, i);
  EXPECT_EQ(d.size(), 1001u);
  EXPECT_EQ(d.begin()->first, Value("b"));
  EXPECT_EQ(*d.find(999), Value(999));
  d.reserve(10);  // less than held: nothing to do
  EXPECT_EQ(d.size(), 1001u);
}

}  // namespace
}  // namespace shoal
