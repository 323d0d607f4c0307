#include "server/objects/array_object.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "tests/unit/objects/int_typecodes.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::IntRange;
using ::shoal::server::testing::kIntRanges;
using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;
using ::shoal::testing_util::Range;
using ::shoal::testing_util::TypeNames;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// A list of the given values; unlike Value::List({5}), Items({5}) is [5].
Value::List Items(std::initializer_list<Value> items) { return Value::List(items); }

std::unique_ptr<ArrayObject> Make(const std::string& typecode, const Value& initial,
                                  MemoryBudget* budget = nullptr) {
  absl::StatusOr<std::unique_ptr<ArrayObject>> object =
      ArrayObject::Create(budget, typecode, initial);
  EXPECT_TRUE(object.ok()) << object.status();
  return object.ok() ? *std::move(object) : nullptr;
}

TEST(ArrayObject, IsAnArrayKindOfFixedLength) {
  std::unique_ptr<ArrayObject> array = Make("i", Value::list({1, 2, 3}));
  ASSERT_NE(array, nullptr);
  EXPECT_EQ(array->kind(), Kind::kArray);
  EXPECT_EQ(array->typecode(), "i");
  EXPECT_EQ(array->itemsize(), 4);
  EXPECT_EQ(array->Len(), 3);
  EXPECT_EQ(array->Size(), 3);
  EXPECT_EQ(array->ToList(), Items({1, 2, 3}));
}

TEST(ArrayObject, ALengthGivesZeros) {
  std::unique_ptr<ArrayObject> doubles = Make("d", 10);
  ASSERT_NE(doubles, nullptr);
  EXPECT_EQ(doubles->Len(), 10);
  EXPECT_EQ(doubles->ToList(), Value::List(10, Value(0.0)));
  EXPECT_EQ(TypeNames(doubles->GetSlice(0, 2, std::nullopt).value()), "float,float");
  std::unique_ptr<ArrayObject> ints = Make("q", 3);
  ASSERT_NE(ints, nullptr);
  EXPECT_EQ(TypeNames(ints->ToList()), "int,int,int");
  std::unique_ptr<ArrayObject> chars = Make("u", 2);
  ASSERT_NE(chars, nullptr);
  EXPECT_EQ(chars->ToList(), Value::List(2, Value(std::string(1, '\0'))));
  std::unique_ptr<ArrayObject> empty = Make("b", 0);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->Len(), 0);
  EXPECT_TRUE(empty->ToList().empty());
}

TEST(ArrayObject, ItemSizesAreThoseOfLinux) {
  const std::pair<const char*, int> sizes[] = {
      {"b", 1}, {"B", 1}, {"h", 2}, {"H", 2}, {"i", 4}, {"I", 4}, {"l", 8},
      {"L", 8}, {"q", 8}, {"Q", 8}, {"f", 4}, {"d", 8}, {"u", 4},
  };
  for (const auto& [code, size] : sizes) {
    SCOPED_TRACE(code);
    std::unique_ptr<ArrayObject> array = Make(code, 1);
    ASSERT_NE(array, nullptr);
    EXPECT_EQ(array->itemsize(), size);
  }
}

TEST(ArrayObject, BadTypecodeIsValueErrorNamingTheGoodOnes) {
  const std::string message = "(must be b, B, u, h, H, i, I, l, L, q, Q, f or d)";
  EXPECT_TRUE(IsError(ArrayObject::Create(nullptr, "z", 3), ErrorKind::kValueError,
                      "bad typecode 'z' " + message));
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "", 3), ErrorKind::kValueError));
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "ii", 3), ErrorKind::kValueError));
  // Value's typecodes that the array module does not have.
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "?", 3), ErrorKind::kValueError));
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "c", 3), ErrorKind::kValueError));
}

TEST(ArrayObject, NegativeLengthIsValueError) {
  EXPECT_TRUE(IsError(ArrayObject::Create(nullptr, "i", -1), ErrorKind::kValueError,
                      "an Array's length must be >= 0, not -1"));
}

TEST(ArrayObject, InitialOfAnotherTypeIsTypeError) {
  EXPECT_TRUE(IsError(ArrayObject::Create(nullptr, "i", Value()), ErrorKind::kTypeError,
                      "an Array starts from a length or a list, not 'NoneType'"));
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "d", 2.5), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "i", Value::dict({})), ErrorKind::kTypeError));
}

TEST(ArrayObject, ABadItemRefusesTheWholeArray) {
  EXPECT_TRUE(IsError(ArrayObject::Create(nullptr, "i", Value::list({1, "two", 3})),
                      ErrorKind::kTypeError, "typecode 'i' needs an int, not 'str'"));
  EXPECT_TRUE(IsError(ArrayObject::Create(nullptr, "b", Value::list({1, 200})),
                      ErrorKind::kOverflowError,
                      "200 is out of range for typecode 'b' (-128 to 127)"));
}

TEST(ArrayObject, IntegerTypecodesHoldTheirCRangeAndOverflowPastIt) {
  for (const IntRange& range : kIntRanges) {
    SCOPED_TRACE(range.typecode);
    std::unique_ptr<ArrayObject> array = Make(range.typecode, Value::list({range.min, range.max}));
    ASSERT_NE(array, nullptr);
    // Both ends come back exactly, so nothing was cut on the way in.
    EXPECT_EQ(array->ToList(), Items({range.min, range.max}));
    ASSERT_TRUE(IsOk(array->SetItem(0, range.max)));
    ASSERT_TRUE(IsOk(array->SetItem(1, range.min)));
    EXPECT_EQ(array->ToList(), Items({range.max, range.min}));
    const std::string bounds = " is out of range for typecode '" + std::string(range.typecode) +
                               "' (" + std::to_string(range.min) + " to " +
                               std::to_string(range.max) + ")";
    if (range.min != kInt64Min) {
      EXPECT_TRUE(IsError(array->SetItem(0, range.min - 1), ErrorKind::kOverflowError,
                          std::to_string(range.min - 1) + bounds));
      EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, range.typecode, Value::list({range.min - 1})),
                         ErrorKind::kOverflowError));
    }
    if (range.max != kInt64Max) {
      EXPECT_TRUE(IsError(array->SetItem(0, range.max + 1), ErrorKind::kOverflowError,
                          std::to_string(range.max + 1) + bounds));
      EXPECT_TRUE(IsKind(array->SetSlice(0, 1, std::nullopt, {range.max + 1}),
                         ErrorKind::kOverflowError));
    }
    EXPECT_EQ(array->ToList(), Items({range.max, range.min}));  // Failures changed nothing.
  }
}

TEST(ArrayObject, IntegerTypecodeTakesABoolAsAnInt) {
  std::unique_ptr<ArrayObject> array = Make("i", Value::list({true, false}));
  ASSERT_NE(array, nullptr);
  EXPECT_EQ(TypeNames(array->ToList()), "int,int");
  EXPECT_EQ(array->ToList(), Items({1, 0}));
}

TEST(ArrayObject, IntegerTypecodeRefusesOtherTypes) {
  std::unique_ptr<ArrayObject> array = Make("i", Value::list({5}));
  ASSERT_NE(array, nullptr);
  // As ctypes and the array module do: 1.5 is not an int, however close.
  EXPECT_TRUE(
      IsError(array->SetItem(0, 1.5), ErrorKind::kTypeError, "typecode 'i' needs an int, not 'float'"));
  EXPECT_TRUE(IsKind(array->SetItem(0, 2.0), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(array->SetItem(0, "5"), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(array->SetItem(0, Value()), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(array->SetItem(0, Value::list({1})), ErrorKind::kTypeError));
  EXPECT_TRUE(IsError(array->SetItem(0, ObjectRef{7, Kind::kList, nullptr}), ErrorKind::kTypeError,
                      "typecode 'i' needs an int, not 'list'"));
  EXPECT_EQ(array->ToList(), Items({5}));
}

TEST(ArrayObject, FloatTypecodesTakeNumbersAndGiveFloats) {
  for (const char* code : {"f", "d"}) {
    SCOPED_TRACE(code);
    std::unique_ptr<ArrayObject> array = Make(code, Value::list({1, true, 2.5}));
    ASSERT_NE(array, nullptr);
    EXPECT_EQ(TypeNames(array->ToList()), "float,float,float");
    EXPECT_EQ(array->ToList(), Items({1.0, 1.0, 2.5}));
    EXPECT_TRUE(IsError(array->SetItem(0, "1.0"), ErrorKind::kTypeError,
                        std::string("typecode '") + code + "' needs a number, not 'str'"));
    EXPECT_TRUE(IsKind(array->SetItem(0, Value()), ErrorKind::kTypeError));
  }
}

TEST(ArrayObject, FloatIsRoundedToFloat32AsCtypesDoes) {
  std::unique_ptr<ArrayObject> single = Make("f", 1);
  ASSERT_NE(single, nullptr);
  ASSERT_TRUE(IsOk(single->SetItem(0, 0.1)));
  // ctypes.c_float(0.1).value, and array('f', [0.1])[0]
  EXPECT_EQ(single->GetItem(0).value().as_float(), 0.10000000149011612);
  EXPECT_EQ(single->GetItem(0).value().as_float(), static_cast<double>(0.1f));
  ASSERT_TRUE(IsOk(single->SetItem(0, 3.1415927)));
  EXPECT_EQ(single->GetItem(0).value().as_float(), static_cast<double>(3.1415927f));
  // An int past float32's exact range is rounded too.
  ASSERT_TRUE(IsOk(single->SetItem(0, 16777217)));
  EXPECT_EQ(single->GetItem(0).value().as_float(), 16777216.0);
  // Past float32's range: an infinity, as c_float and array('f') store it.
  ASSERT_TRUE(IsOk(single->SetItem(0, 1e300)));
  EXPECT_EQ(single->GetItem(0).value().as_float(), std::numeric_limits<double>::infinity());

  std::unique_ptr<ArrayObject> twice = Make("d", 1);
  ASSERT_NE(twice, nullptr);
  ASSERT_TRUE(IsOk(twice->SetItem(0, 0.1)));
  EXPECT_EQ(twice->GetItem(0).value().as_float(), 0.1);  // a double keeps it
}

TEST(ArrayObject, UnicodeTypecodeHoldsOneCharacter) {
  std::unique_ptr<ArrayObject> array = Make("u", "h\xc3\xa9\xf0\x9f\x90\x9f");  // "hé🐟"
  ASSERT_NE(array, nullptr);
  EXPECT_EQ(array->Len(), 3);
  EXPECT_EQ(array->ToList(), Items({"h", "\xc3\xa9", "\xf0\x9f\x90\x9f"}));
  ASSERT_TRUE(IsOk(array->SetItem(0, "\xe2\x82\xac")));  // "€"
  EXPECT_EQ(array->GetItem(0).value(), Value("\xe2\x82\xac"));
  EXPECT_TRUE(IsError(array->SetItem(0, "ab"), ErrorKind::kTypeError,
                      "typecode 'u' needs a str of one character, not of 2"));
  EXPECT_TRUE(IsError(array->SetItem(0, ""), ErrorKind::kTypeError,
                      "typecode 'u' needs a str of one character, not of 0"));
  EXPECT_TRUE(IsError(array->SetItem(0, 65), ErrorKind::kTypeError,
                      "typecode 'u' needs a str of one character, not 'int'"));
  EXPECT_TRUE(IsKind(array->SetItem(0, Value::bytes("a")), ErrorKind::kTypeError));
  EXPECT_EQ(array->GetItem(0).value(), Value("\xe2\x82\xac"));
  // A list of characters too, as Array('u', ['a', 'b']).
  std::unique_ptr<ArrayObject> listed = Make("u", Value::list({"a", "b"}));
  ASSERT_NE(listed, nullptr);
  EXPECT_EQ(listed->Repr(), "array('u', 'ab')");
}

TEST(ArrayObject, AStrStartsOnlyACharacterArray) {
  EXPECT_TRUE(IsError(ArrayObject::Create(nullptr, "i", "12"), ErrorKind::kTypeError,
                      "typecode 'i' needs an int, not 'str'"));
}

TEST(ArrayObject, NegativeIndexesCountFromTheEnd) {
  std::unique_ptr<ArrayObject> array = Make("h", Value::List(Range(5)));
  ASSERT_NE(array, nullptr);
  EXPECT_EQ(array->GetItem(-1).value(), Value(4));
  EXPECT_EQ(array->GetItem(-5).value(), Value(0));
  ASSERT_TRUE(IsOk(array->SetItem(-2, 30)));
  EXPECT_EQ(array->GetItem(3).value(), Value(30));
}

TEST(ArrayObject, IndexOutOfRangeIsIndexError) {
  std::unique_ptr<ArrayObject> array = Make("h", 3);
  ASSERT_NE(array, nullptr);
  EXPECT_TRUE(IsError(array->GetItem(3), ErrorKind::kIndexError, "array index out of range"));
  EXPECT_TRUE(IsError(array->GetItem(-4), ErrorKind::kIndexError, "array index out of range"));
  EXPECT_TRUE(IsKind(array->GetItem(kInt64Min), ErrorKind::kIndexError));
  EXPECT_TRUE(IsKind(array->GetItem(kInt64Max), ErrorKind::kIndexError));
  EXPECT_TRUE(IsError(array->SetItem(3, 1), ErrorKind::kIndexError,
                      "array assignment index out of range"));
  EXPECT_TRUE(IsKind(array->SetItem(-4, 1), ErrorKind::kIndexError));
  // The index is checked before the value, as Python does.
  EXPECT_TRUE(IsKind(array->SetItem(9, "x"), ErrorKind::kIndexError));
  std::unique_ptr<ArrayObject> empty = Make("h", 0);
  ASSERT_NE(empty, nullptr);
  EXPECT_TRUE(IsKind(empty->GetItem(0), ErrorKind::kIndexError));
  EXPECT_TRUE(IsKind(empty->GetItem(-1), ErrorKind::kIndexError));
}

TEST(ArrayObject, SlicesFollowPython) {
  std::unique_ptr<ArrayObject> array = Make("i", Value::List(Range(10)));
  ASSERT_NE(array, nullptr);
  EXPECT_EQ(array->GetSlice(2, 5, std::nullopt).value(), Items({2, 3, 4}));
  EXPECT_EQ(array->GetSlice(-3, std::nullopt, std::nullopt).value(), Items({7, 8, 9}));
  EXPECT_EQ(array->GetSlice(std::nullopt, std::nullopt, 3).value(), Items({0, 3, 6, 9}));
  EXPECT_EQ(array->GetSlice(std::nullopt, std::nullopt, -4).value(), Items({9, 5, 1}));
  EXPECT_EQ(array->GetSlice(8, 100, std::nullopt).value(), Items({8, 9}));  // clamped
  EXPECT_TRUE(array->GetSlice(5, 2, std::nullopt).value().empty());
  EXPECT_TRUE(IsError(array->GetSlice(std::nullopt, std::nullopt, 0), ErrorKind::kValueError,
                      "slice step cannot be zero"));
}

TEST(ArrayObject, SetSliceKeepsTheLength) {
  std::unique_ptr<ArrayObject> array = Make("i", Value::List(Range(6)));
  ASSERT_NE(array, nullptr);
  ASSERT_TRUE(IsOk(array->SetSlice(1, 3, std::nullopt, {10, 20})));
  EXPECT_EQ(array->ToList(), Items({0, 10, 20, 3, 4, 5}));
  ASSERT_TRUE(IsOk(array->SetSlice(std::nullopt, std::nullopt, -2, {-1, -3, -5})));
  EXPECT_EQ(array->ToList(), Items({0, -5, 20, -3, 4, -1}));
  ASSERT_TRUE(IsOk(array->SetSlice(4, 4, std::nullopt, {})));  // an empty slice, nothing given
  EXPECT_TRUE(IsError(array->SetSlice(0, 2, std::nullopt, {1, 2, 3}), ErrorKind::kValueError,
                      "can only assign a sequence of the same size: the slice has 2 items, 3 "
                      "given"));
  EXPECT_TRUE(IsKind(array->SetSlice(0, 2, std::nullopt, {1}), ErrorKind::kValueError));
  EXPECT_TRUE(IsKind(array->SetSlice(6, 6, std::nullopt, {1}), ErrorKind::kValueError));
  EXPECT_EQ(array->Len(), 6);
  EXPECT_EQ(array->ToList(), Items({0, -5, 20, -3, 4, -1}));
}

TEST(ArrayObject, SetSliceChecksEveryValueBeforeStoringAny) {
  std::unique_ptr<ArrayObject> array = Make("B", Value::list({1, 2, 3}));
  ASSERT_NE(array, nullptr);
  EXPECT_TRUE(IsKind(array->SetSlice(0, 3, std::nullopt, {7, 8, 256}), ErrorKind::kOverflowError));
  EXPECT_TRUE(IsKind(array->SetSlice(0, 3, std::nullopt, {7, "8", 9}), ErrorKind::kTypeError));
  EXPECT_EQ(array->ToList(), Items({1, 2, 3}));
}

TEST(ArrayObject, ASliceOfMoreItemsThanTheLimitIsLimitError) {
  std::unique_ptr<ArrayObject> array = Make("b", 100);
  ASSERT_NE(array, nullptr);
  EXPECT_EQ(array->GetSlice(std::nullopt, std::nullopt, std::nullopt, 100).value().size(), 100u);
  EXPECT_EQ(array->GetSlice(std::nullopt, std::nullopt, 2, 50).value().size(), 50u);
  EXPECT_TRUE(IsError(array->GetSlice(std::nullopt, std::nullopt, std::nullopt, 99),
                      ErrorKind::kLimitError,
                      "the reply would hold 100 items, past the server's message limit; read "
                      "large Arrays in slices"));
}

TEST(ArrayObject, ReprOfAHugeArrayIsCut) {
  std::unique_ptr<ArrayObject> bytes = Make("b", 4 << 20);
  ASSERT_NE(bytes, nullptr);
  const std::string repr = bytes->Repr();
  EXPECT_LE(repr.size(), ArrayObject::kReprLimit + 16);
  EXPECT_EQ(repr.substr(0, 16), "array('b', [0, 0");
  EXPECT_EQ(repr.substr(repr.size() - 5), "...])");
  std::unique_ptr<ArrayObject> chars = Make("u", 2 << 20);
  ASSERT_NE(chars, nullptr);
  const std::string text = chars->Repr();
  EXPECT_LE(text.size(), 5 * ArrayObject::kReprLimit);  // each NUL shows as \x00
  EXPECT_EQ(text.substr(text.size() - 4), "...)");
}

TEST(ArrayObject, ReprLikePythonsArray) {
  EXPECT_EQ(Make("i", Value::list({1, -2, 3}))->Repr(), "array('i', [1, -2, 3])");
  EXPECT_EQ(Make("d", Value::list({1, 2.5}))->Repr(), "array('d', [1.0, 2.5])");
  EXPECT_EQ(Make("f", Value::list({0.1}))->Repr(), "array('f', [0.10000000149011612])");
  EXPECT_EQ(Make("u", "it's")->Repr(), "array('u', \"it's\")");
  EXPECT_EQ(Make("q", 0)->Repr(), "array('q')");
}

TEST(ArrayObject, BudgetIsChargedItsBytesAndGivenBack) {
  MemoryBudget budget(0);
  {
    std::unique_ptr<ArrayObject> doubles = Make("d", 1000, &budget);
    ASSERT_NE(doubles, nullptr);
    EXPECT_EQ(budget.used(), 8000);  // compact: 8 bytes a double
    std::unique_ptr<ArrayObject> bytes = Make("b", Value::List(Range(100)), &budget);
    ASSERT_NE(bytes, nullptr);
    EXPECT_EQ(budget.used(), 8100);
    ASSERT_TRUE(IsOk(doubles->SetSlice(0, 2, std::nullopt, {1.5, 2.5})));
    EXPECT_EQ(budget.used(), 8100);  // writes never change the size
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(ArrayObject, OverBudgetIsLimitErrorAndTakesNothing) {
  MemoryBudget budget(1 << 20);
  EXPECT_TRUE(IsKind(ArrayObject::Create(&budget, "d", int64_t{1} << 40), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(ArrayObject::Create(&budget, "q", kInt64Max), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 0);
  std::unique_ptr<ArrayObject> fits = Make("d", (1 << 20) / 8, &budget);
  ASSERT_NE(fits, nullptr);
  EXPECT_TRUE(IsKind(ArrayObject::Create(&budget, "b", 1), ErrorKind::kLimitError));
}

TEST(ArrayObject, ARefusedItemGivesTheChargeBack) {
  MemoryBudget budget(0);
  EXPECT_TRUE(IsKind(ArrayObject::Create(&budget, "i", Value::list({1, 2, "x"})),
                     ErrorKind::kTypeError));
  EXPECT_EQ(budget.used(), 0);
}

TEST(ArrayObject, ALengthPastAnyMemoryIsLimitErrorWithoutALimit) {
  // No --max-bytes: the length times the item size overflows int64.
  EXPECT_TRUE(IsKind(ArrayObject::Create(nullptr, "d", kInt64Max), ErrorKind::kLimitError));
}

TEST(ArrayObject, ConcurrentSetsOfDistinctItemsAreAllKept) {
  std::unique_ptr<ArrayObject> array = Make("b", 64);
  ASSERT_NE(array, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&array, t] {
      for (int round = 0; round < 200; ++round) {
        for (int i = t; i < 64; i += 4) {
          ASSERT_TRUE(IsOk(array->SetItem(i, (round + i) % 100)));
        }
        // Neighbours are written by the other threads at the same time.
        ASSERT_TRUE(IsOk(array->GetSlice(0, 64, std::nullopt)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  Value::List expected;
  for (int i = 0; i < 64; ++i) expected.push_back((199 + i) % 100);
  EXPECT_EQ(array->ToList(), expected);
}

}  // namespace
}  // namespace shoal::server
