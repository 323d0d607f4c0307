#include "server/objects/value_object.h"

#include <cstdint>
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

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

std::unique_ptr<ValueObject> Make(std::string typecode, Value initial) {
  absl::StatusOr<std::unique_ptr<ValueObject>> object =
      ValueObject::Create(nullptr, std::move(typecode), std::move(initial));
  EXPECT_TRUE(object.ok()) << object.status();
  return object.ok() ? *std::move(object) : nullptr;
}

TEST(ValueObject, IsAValueKindHoldingOneValue) {
  std::unique_ptr<ValueObject> value = Make("i", 5);
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(value->kind(), Kind::kValue);
  EXPECT_EQ(value->typecode(), "i");
  EXPECT_EQ(value->Get(), Value(5));
  EXPECT_EQ(value->Size(), 1);
}

TEST(ValueObject, UnknownTypecodeIsValueError) {
  EXPECT_TRUE(IsKind(ValueObject::Create(nullptr, "z", 1), ErrorKind::kValueError));
  EXPECT_TRUE(IsKind(ValueObject::Create(nullptr, "ii", 1), ErrorKind::kValueError));
  EXPECT_TRUE(IsKind(ValueObject::Create(nullptr, "x", Value()), ErrorKind::kValueError));
}

TEST(ValueObject, IntegerTypecodesHoldTheirCRange) {
  for (const IntRange& range : kIntRanges) {
    SCOPED_TRACE(range.typecode);
    std::unique_ptr<ValueObject> value = Make(range.typecode, range.min);
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(value->Get(), Value(range.min));
    EXPECT_TRUE(IsOk(value->Set(range.max)));
    EXPECT_EQ(value->Get(), Value(range.max));
    if (range.min != kInt64Min) {
      EXPECT_TRUE(IsError(value->Set(range.min - 1), ErrorKind::kOverflowError,
                          std::to_string(range.min - 1) + " is out of range for typecode '" +
                              range.typecode + "'"));
      EXPECT_TRUE(IsKind(ValueObject::Create(nullptr, range.typecode, range.min - 1),
                         ErrorKind::kOverflowError));
    }
    if (range.max != kInt64Max) {
      EXPECT_TRUE(IsError(value->Set(range.max + 1), ErrorKind::kOverflowError,
                          std::to_string(range.max + 1) + " is out of range for typecode '" +
                              range.typecode + "'"));
    }
    EXPECT_EQ(value->Get(), Value(range.max));  // Failed sets changed nothing.
  }
}

TEST(ValueObject, IntegerTypecodeTakesABoolAsAnInt) {
  std::unique_ptr<ValueObject> value = Make("i", true);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(value->Get().is_int());
  EXPECT_EQ(value->Get(), Value(1));
}

TEST(ValueObject, IntegerTypecodeRefusesOtherTypes) {
  std::unique_ptr<ValueObject> value = Make("i", 5);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(
      IsError(value->Set(1.5), ErrorKind::kTypeError, "typecode 'i' needs an int, not 'float'"));
  EXPECT_TRUE(
      IsError(value->Set("5"), ErrorKind::kTypeError, "typecode 'i' needs an int, not 'str'"));
  EXPECT_TRUE(IsKind(value->Set(Value()), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(ValueObject::Create(nullptr, "q", 2.0), ErrorKind::kTypeError));
  EXPECT_EQ(value->Get(), Value(5));
}

TEST(ValueObject, FloatTypecodesStoreNumbersAsFloats) {
  for (const char* code : {"f", "d"}) {
    SCOPED_TRACE(code);
    std::unique_ptr<ValueObject> value = Make(code, 3);
    ASSERT_NE(value, nullptr);
    EXPECT_TRUE(value->Get().is_float());
    EXPECT_EQ(value->Get(), Value(3.0));
    ASSERT_TRUE(IsOk(value->Set(true)));
    EXPECT_TRUE(value->Get().is_float());
    ASSERT_TRUE(IsOk(value->Set(2.5)));
    EXPECT_EQ(value->Get(), Value(2.5));
    EXPECT_TRUE(IsKind(value->Set("2.5"), ErrorKind::kTypeError));
    EXPECT_EQ(value->Get(), Value(2.5));
  }
}

TEST(ValueObject, BoolTypecodeTakesOnlyBools) {
  std::unique_ptr<ValueObject> value = Make("?", true);
  ASSERT_NE(value, nullptr);
  ASSERT_TRUE(IsOk(value->Set(false)));
  EXPECT_TRUE(
      IsError(value->Set(1), ErrorKind::kTypeError, "typecode '?' needs a bool, not 'int'"));
  EXPECT_EQ(value->Get(), Value(false));
  EXPECT_TRUE(value->Get().is_bool());
}

TEST(ValueObject, UnicodeTypecodeTakesStr) {
  std::unique_ptr<ValueObject> value = Make("u", "hello");
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsKind(value->Set(Value::bytes("b")), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(value->Set(1), ErrorKind::kTypeError));
  EXPECT_EQ(value->Get(), Value("hello"));
}

TEST(ValueObject, CharTypecodeTakesBytesOfLengthOne) {
  std::unique_ptr<ValueObject> value = Make("c", Value::bytes("a"));
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsError(value->Set(Value::bytes("ab")), ErrorKind::kTypeError,
                      "typecode 'c' needs bytes of length 1, not of length 2"));
  EXPECT_TRUE(IsKind(value->Set(Value::bytes("")), ErrorKind::kTypeError));
  EXPECT_TRUE(IsError(value->Set("a"), ErrorKind::kTypeError,
                      "typecode 'c' needs bytes of length 1, not 'str'"));
  EXPECT_EQ(value->Get(), Value::bytes("a"));
}

TEST(ValueObject, EmptyTypecodeHoldsAnything) {
  std::unique_ptr<ValueObject> value = Make("", Value());
  ASSERT_NE(value, nullptr);
  for (const Value& v : {Value(1), Value("s"), Value::list({1, "x"}), Value::dict({{"k", 2}}),
                         Value(true), Value(2.5), Value::bytes("raw")}) {
    ASSERT_TRUE(IsOk(value->Set(v)));
    EXPECT_EQ(value->Get(), v);
  }
}

TEST(ValueObject, AddIntsGivesAnInt) {
  std::unique_ptr<ValueObject> value = Make("i", 5);
  ASSERT_NE(value, nullptr);
  absl::StatusOr<Value> sum = value->Add(3);
  ASSERT_TRUE(IsOk(sum));
  EXPECT_EQ(*sum, Value(8));
  EXPECT_EQ(*value->Add(-10), Value(-2));
  EXPECT_EQ(*value->Add(true), Value(-1));
  EXPECT_EQ(value->Get(), Value(-1));
}

TEST(ValueObject, AddFloatToAnIntTypecodeIsTypeError) {
  std::unique_ptr<ValueObject> value = Make("i", 5);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsKind(value->Add(1.5), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(value->Add(1.0), ErrorKind::kTypeError));
  EXPECT_EQ(value->Get(), Value(5));
  EXPECT_TRUE(value->Get().is_int());
}

TEST(ValueObject, AddFollowsPythonTypesWithoutATypecode) {
  std::unique_ptr<ValueObject> value = Make("", 1);
  ASSERT_NE(value, nullptr);
  absl::StatusOr<Value> sum = value->Add(0.5);  // 1 + 0.5 == 1.5
  ASSERT_TRUE(IsOk(sum));
  EXPECT_TRUE(sum->is_float());
  EXPECT_EQ(*sum, Value(1.5));

  std::unique_ptr<ValueObject> flag = Make("", true);
  ASSERT_NE(flag, nullptr);
  sum = flag->Add(1);  // True + 1 == 2
  ASSERT_TRUE(IsOk(sum));
  EXPECT_TRUE(sum->is_int());
  EXPECT_EQ(*sum, Value(2));

  std::unique_ptr<ValueObject> flags = Make("", true);
  ASSERT_NE(flags, nullptr);
  sum = flags->Add(true);  // True + True == 2
  ASSERT_TRUE(IsOk(sum));
  EXPECT_TRUE(sum->is_int());
  EXPECT_EQ(*sum, Value(2));
}

TEST(ValueObject, AddToAFloatTypecodeStaysFloat) {
  std::unique_ptr<ValueObject> value = Make("d", 1.5);
  ASSERT_NE(value, nullptr);
  absl::StatusOr<Value> sum = value->Add(1);
  ASSERT_TRUE(IsOk(sum));
  EXPECT_TRUE(sum->is_float());
  EXPECT_EQ(*sum, Value(2.5));
}

TEST(ValueObject, AddPastInt64IsOverflowError) {
  std::unique_ptr<ValueObject> value = Make("q", kInt64Max);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsError(value->Add(1), ErrorKind::kOverflowError, "integer overflow"));
  EXPECT_EQ(value->Get(), Value(kInt64Max));
  std::unique_ptr<ValueObject> low = Make("", kInt64Min);
  ASSERT_NE(low, nullptr);
  EXPECT_TRUE(IsError(low->Add(-1), ErrorKind::kOverflowError, "integer overflow"));
  EXPECT_EQ(low->Get(), Value(kInt64Min));
}

TEST(ValueObject, AddPastTheTypecodeRangeIsOverflowError) {
  std::unique_ptr<ValueObject> value = Make("b", 127);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(
      IsError(value->Add(1), ErrorKind::kOverflowError, "128 is out of range for typecode 'b'"));
  EXPECT_EQ(value->Get(), Value(127));
  std::unique_ptr<ValueObject> unsigned_value = Make("Q", 0);
  ASSERT_NE(unsigned_value, nullptr);
  EXPECT_TRUE(IsKind(unsigned_value->Add(-1), ErrorKind::kOverflowError));
  EXPECT_EQ(unsigned_value->Get(), Value(0));
}

TEST(ValueObject, AddOfANonNumberIsTypeError) {
  std::unique_ptr<ValueObject> value = Make("i", 5);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsError(value->Add("1"), ErrorKind::kTypeError,
                      "unsupported operand type(s) for +=: 'int' and 'str'"));
  EXPECT_TRUE(IsKind(value->Add(Value()), ErrorKind::kTypeError));
  EXPECT_TRUE(IsKind(value->Add(Value::list({1})), ErrorKind::kTypeError));
  EXPECT_EQ(value->Get(), Value(5));
}

TEST(ValueObject, AddToANonNumberIsTypeError) {
  std::unique_ptr<ValueObject> value = Make("", "text");
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsError(value->Add(1), ErrorKind::kTypeError,
                      "unsupported operand type(s) for +=: 'str' and 'int'"));
  EXPECT_EQ(value->Get(), Value("text"));
}

TEST(ValueObject, AddToABoolTypecodeIsTypeError) {
  // True + 1 is the int 2, which '?' cannot hold.
  std::unique_ptr<ValueObject> value = Make("?", true);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsKind(value->Add(1), ErrorKind::kTypeError));
  EXPECT_EQ(value->Get(), Value(true));
}

TEST(ValueObject, CompareAndSwapSwapsOnlyWhenEqual) {
  std::unique_ptr<ValueObject> value = Make("i", 5);
  ASSERT_NE(value, nullptr);
  absl::StatusOr<std::pair<bool, Value>> result = value->CompareAndSwap(5, 6);
  ASSERT_TRUE(IsOk(result));
  EXPECT_TRUE(result->first);
  EXPECT_EQ(result->second, Value(6));

  result = value->CompareAndSwap(5, 7);
  ASSERT_TRUE(IsOk(result));
  EXPECT_FALSE(result->first);
  EXPECT_EQ(result->second, Value(6));

  result = value->CompareAndSwap(6.0, 7);  // 6 == 6.0
  ASSERT_TRUE(IsOk(result));
  EXPECT_TRUE(result->first);
  EXPECT_EQ(value->Get(), Value(7));
}

TEST(ValueObject, CompareAndSwapChecksDesiredAgainstTheTypecode) {
  std::unique_ptr<ValueObject> value = Make("b", 5);
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(IsKind(value->CompareAndSwap(5, "x"), ErrorKind::kTypeError));
  // Checked even when it would not swap.
  EXPECT_TRUE(IsKind(value->CompareAndSwap(100, 300), ErrorKind::kOverflowError));
  EXPECT_EQ(value->Get(), Value(5));
}

TEST(ValueObject, CompareAndSwapConvertsDesired) {
  std::unique_ptr<ValueObject> value = Make("d", 1.0);
  ASSERT_NE(value, nullptr);
  absl::StatusOr<std::pair<bool, Value>> result = value->CompareAndSwap(1, 2);
  ASSERT_TRUE(IsOk(result));
  EXPECT_TRUE(result->first);
  EXPECT_TRUE(result->second.is_float());
}

TEST(ValueObject, ReprLikePythonsValue) {
  EXPECT_EQ(Make("i", 5)->Repr(), "Value('i', 5)");
  EXPECT_EQ(Make("", 5)->Repr(), "Value(None, 5)");
  EXPECT_EQ(Make("u", "hi")->Repr(), "Value('u', 'hi')");
  EXPECT_EQ(Make("d", 2.5)->Repr(), "Value('d', 2.5)");
  EXPECT_EQ(Make("", Value::list({1}))->Repr(), "Value(None, [1])");
}

TEST(ValueObject, ReferencesAreVisitedAndMarked) {
  std::unique_ptr<ValueObject> value = Make("", 1);
  ASSERT_NE(value, nullptr);
  EXPECT_FALSE(value->may_hold_refs());
  ASSERT_TRUE(IsOk(value->Set(Value::list({ObjectRef{4, Kind::kEvent, nullptr}}))));
  EXPECT_TRUE(value->may_hold_refs());
  std::vector<uint64_t> ids;
  value->ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, std::vector<uint64_t>{4});
}

TEST(ValueObject, BudgetIsChargedAndGivenBack) {
  MemoryBudget budget(ApproxBytes("abc"));
  {
    absl::StatusOr<std::unique_ptr<ValueObject>> value = ValueObject::Create(&budget, "u", "abc");
    ASSERT_TRUE(IsOk(value));
    EXPECT_EQ(budget.used(), ApproxBytes("abc"));
    EXPECT_TRUE(IsKind((*value)->Set("abcd"), ErrorKind::kLimitError));
    EXPECT_EQ((*value)->Get(), Value("abc"));
    EXPECT_TRUE(IsOk((*value)->Set("a")));
    EXPECT_EQ(budget.used(), ApproxBytes("a"));
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(ValueObject, CreateOverBudgetIsLimitErrorAndReservesNothing) {
  MemoryBudget budget(ApproxBytes("abc"));
  EXPECT_TRUE(IsKind(ValueObject::Create(&budget, "u", "abcd"), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 0);
}

TEST(ValueObject, ConcurrentAddsAreAtomic) {
  std::unique_ptr<ValueObject> value = Make("i", 0);
  ASSERT_NE(value, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&value] {
      for (int i = 0; i < 1000; ++i) ASSERT_TRUE(value->Add(1).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(value->Get(), Value(4000));
}

TEST(ValueObject, ConcurrentCompareAndSwapLoopsLoseNoIncrement) {
  std::unique_ptr<ValueObject> value = Make("q", 0);
  ASSERT_NE(value, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&value] {
      for (int i = 0; i < 500; ++i) {
        Value current = value->Get();
        while (true) {
          absl::StatusOr<std::pair<bool, Value>> result =
              value->CompareAndSwap(current, current.as_int() + 1);
          ASSERT_TRUE(result.ok());
          if (result->first) break;
          current = result->second;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(value->Get(), Value(2000));
}

}  // namespace
}  // namespace shoal::server
