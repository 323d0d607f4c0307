#include "server/objects/typecode.h"

#include <cstdint>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/unit/objects/int_typecodes.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::IntRange;
using ::shoal::server::testing::kIntRanges;
using ::shoal::testing_util::IsError;

TEST(Typecode, IntegerTypecodesHaveTheirCTypesRangeSizeAndSign) {
  for (const IntRange& range : kIntRanges) {
    SCOPED_TRACE(range.typecode);
    const std::optional<IntType> type = IntTypeOf(range.typecode);
    ASSERT_TRUE(type.has_value());
    EXPECT_EQ(type->min, range.min);
    EXPECT_EQ(type->max, range.max);
    EXPECT_EQ(type->is_signed, range.min < 0);
    const std::string code = range.typecode;
    const int size = (code == "b" || code == "B")   ? 1
                     : (code == "h" || code == "H") ? 2
                     : (code == "i" || code == "I") ? 4
                                                    : 8;
    EXPECT_EQ(type->size, size);
  }
}

TEST(Typecode, OtherTypecodesAreNotIntegers) {
  for (const char* code : {"", "f", "d", "u", "c", "?", "z", "ii", "bb"}) {
    EXPECT_FALSE(IntTypeOf(code).has_value()) << code;
  }
}

TEST(Typecode, IntForTakesAnIntOrABoolInRange) {
  EXPECT_EQ(IntFor("b", -128, 127, ShowRange::kNo, Value(-128)).value(), -128);
  EXPECT_EQ(IntFor("b", -128, 127, ShowRange::kYes, Value(true)).value(), 1);
}

TEST(Typecode, IntForRefusesAnotherTypeWithTypeError) {
  EXPECT_TRUE(IsError(IntFor("i", 0, 10, ShowRange::kNo, Value(1.5)), ErrorKind::kTypeError,
                      "typecode 'i' needs an int, not 'float'"));
  EXPECT_TRUE(IsError(WrongTypeFor("d", "a number", Value("x")), ErrorKind::kTypeError,
                      "typecode 'd' needs a number, not 'str'"));
}

TEST(Typecode, IntForRefusesAnIntOutOfRangeWithOverflowError) {
  EXPECT_TRUE(IsError(IntFor("b", -128, 127, ShowRange::kNo, Value(300)),
                      ErrorKind::kOverflowError, "300 is out of range for typecode 'b'"));
  EXPECT_TRUE(IsError(IntFor("b", -128, 127, ShowRange::kYes, Value(-129)),
                      ErrorKind::kOverflowError,
                      "-129 is out of range for typecode 'b' (-128 to 127)"));
}

}  // namespace
}  // namespace shoal::server
