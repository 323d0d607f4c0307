#include "server/objects/list_object.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;
using ::shoal::testing_util::Range;
using ::shoal::testing_util::TypeNames;

constexpr std::optional<int64_t> kNone = std::nullopt;
constexpr int64_t kValueBytes = static_cast<int64_t>(sizeof(Value));

// Expected contents are written out from Python's rules for the same call on
// the same list.
Value::List L(std::initializer_list<Value> items) { return Value::List(items); }

TEST(ListObject, IsAListKind) {
  ListObject list(nullptr);
  EXPECT_EQ(list.kind(), Kind::kList);
  EXPECT_EQ(list.Len(), 0);
}

TEST(ListObject, CreateHoldsTheInitialItems) {
  absl::StatusOr<std::unique_ptr<ListObject>> list = ListObject::Create(nullptr, L({1, "a"}));
  ASSERT_TRUE(IsOk(list));
  EXPECT_EQ((*list)->Copy(), L({1, "a"}));
  EXPECT_EQ((*list)->Size(), 2);
}

TEST(ListObject, AppendAddsAtTheEnd) {
  ListObject list(nullptr);
  EXPECT_TRUE(IsOk(list.Append(1)));
  EXPECT_TRUE(IsOk(list.Append("two")));
  EXPECT_EQ(list.Copy(), L({1, "two"}));
}

TEST(ListObject, ExtendAddsAllInOrder) {
  ListObject list(nullptr, L({0}));
  EXPECT_TRUE(IsOk(list.Extend(L({1, 2, 3}))));
  EXPECT_TRUE(IsOk(list.Extend({})));
  EXPECT_EQ(list.Copy(), L({0, 1, 2, 3}));
}

TEST(ListObject, InsertClampsLikePython) {
  ListObject list(nullptr, L({0, 1, 2}));
  ASSERT_TRUE(IsOk(list.Insert(1, "a")));   // [0, 'a', 1, 2]
  ASSERT_TRUE(IsOk(list.Insert(-1, "b")));  // Before the last: [0, 'a', 1, 'b', 2]
  ASSERT_TRUE(IsOk(list.Insert(100, "end")));
  ASSERT_TRUE(IsOk(list.Insert(-100, "start")));
  EXPECT_EQ(list.Copy(), L({"start", 0, "a", 1, "b", 2, "end"}));
}

TEST(ListObject, InsertIntoEmptyListAtAnyIndex) {
  ListObject list(nullptr);
  ASSERT_TRUE(IsOk(list.Insert(-5, "x")));
  ASSERT_TRUE(IsOk(list.Insert(5, "y")));
  EXPECT_EQ(list.Copy(), L({"x", "y"}));
}

TEST(ListObject, PopDefaultsToTheLastItem) {
  ListObject list(nullptr, L({0, 1, 2}));
  absl::StatusOr<Value> item = list.Pop(kNone);
  ASSERT_TRUE(IsOk(item));
  EXPECT_EQ(*item, Value(2));
  EXPECT_EQ(list.Copy(), L({0, 1}));
}

TEST(ListObject, PopTakesNegativeAndPositiveIndexes) {
  ListObject list(nullptr, L({0, 1, 2, 3}));
  EXPECT_EQ(*list.Pop(0), Value(0));
  EXPECT_EQ(*list.Pop(-2), Value(2));
  EXPECT_EQ(list.Copy(), L({1, 3}));
}

TEST(ListObject, PopOutOfRangeIsIndexError) {
  ListObject list(nullptr, L({0, 1}));
  EXPECT_TRUE(IsError(list.Pop(2), ErrorKind::kIndexError, "pop index out of range"));
  EXPECT_TRUE(IsError(list.Pop(-3), ErrorKind::kIndexError, "pop index out of range"));
  EXPECT_EQ(list.Copy(), L({0, 1}));
}

TEST(ListObject, PopFromEmptyIsIndexError) {
  ListObject list(nullptr);
  EXPECT_TRUE(IsError(list.Pop(kNone), ErrorKind::kIndexError, "pop from empty list"));
  EXPECT_TRUE(IsError(list.Pop(0), ErrorKind::kIndexError, "pop from empty list"));
}

TEST(ListObject, RemoveTakesTheFirstEqualItem) {
  ListObject list(nullptr, L({2, 1, 1.0, 3}));
  ASSERT_TRUE(IsOk(list.Remove(1.0)));  // Removes the int 1: 1 == 1.0.
  EXPECT_EQ(list.Copy(), L({2, 1.0, 3}));
  EXPECT_EQ(TypeNames(list.Copy()), "int,float,int");
}

TEST(ListObject, RemoveMissingIsValueError) {
  ListObject list(nullptr, L({1, 2}));
  EXPECT_TRUE(IsError(list.Remove(3), ErrorKind::kValueError, "list.remove(x): x not in list"));
  EXPECT_EQ(list.Copy(), L({1, 2}));
}

TEST(ListObject, IndexFindsTheFirstEqualItem) {
  ListObject list(nullptr, L({"a", "b", "c", "a", "b"}));
  EXPECT_EQ(*list.Index("a", kNone, kNone), 0);
  EXPECT_EQ(*list.Index("b", kNone, kNone), 1);
  ListObject numbers(nullptr, L({"x", true, 1.0}));
  EXPECT_EQ(*numbers.Index(1, kNone, kNone), 1);  // True == 1.
}

TEST(ListObject, IndexClampsStartAndStopLikePython) {
  ListObject list(nullptr, L({"a", "b", "c", "a", "b"}));
  EXPECT_EQ(*list.Index("a", 1, kNone), 3);
  EXPECT_EQ(*list.Index("b", -2, kNone), 4);  // start -2 is 3.
  EXPECT_EQ(*list.Index("c", -100, 100), 2);
  EXPECT_EQ(*list.Index("b", 0, -3), 1);  // stop -3 is 2.
  EXPECT_TRUE(IsError(list.Index("b", 0, -4), ErrorKind::kValueError, "'b' is not in list"));
  EXPECT_TRUE(IsError(list.Index("a", 1, 3), ErrorKind::kValueError, "'a' is not in list"));
  EXPECT_TRUE(IsError(list.Index("a", 100, kNone), ErrorKind::kValueError, "'a' is not in list"));
  EXPECT_TRUE(IsError(list.Index("a", 4, 2), ErrorKind::kValueError, "'a' is not in list"));
}

TEST(ListObject, IndexOfMissingIsValueErrorWithTheRepr) {
  ListObject list(nullptr, L({1}));
  EXPECT_TRUE(IsError(list.Index("x", kNone, kNone), ErrorKind::kValueError, "'x' is not in list"));
  EXPECT_TRUE(IsError(list.Index(2, kNone, kNone), ErrorKind::kValueError, "2 is not in list"));
}

TEST(ListObject, CountCountsEqualItems) {
  ListObject list(nullptr, L({1, 1.0, true, 2, "1"}));
  EXPECT_EQ(list.Count(1), 3);
  EXPECT_EQ(list.Count("1"), 1);
  EXPECT_EQ(list.Count(7), 0);
}

TEST(ListObject, ReverseInPlace) {
  ListObject list(nullptr, L({1, "a", 2.5}));
  list.Reverse();
  EXPECT_EQ(list.Copy(), L({2.5, "a", 1}));
  ListObject empty(nullptr);
  empty.Reverse();
  EXPECT_EQ(empty.Len(), 0);
}

TEST(ListObject, SortOrdersNumbersAcrossTypes) {
  ListObject list(nullptr, L({3, 1.5, 2, -1, false}));
  ASSERT_TRUE(IsOk(list.Sort(false)));
  EXPECT_EQ(list.Copy(), L({-1, false, 1.5, 2, 3}));
}

TEST(ListObject, SortOrdersStrings) {
  ListObject list(nullptr, L({"b", "a", "c", "B"}));
  ASSERT_TRUE(IsOk(list.Sort(false)));
  EXPECT_EQ(list.Copy(), L({"B", "a", "b", "c"}));
  ASSERT_TRUE(IsOk(list.Sort(true)));
  EXPECT_EQ(list.Copy(), L({"c", "b", "a", "B"}));
}

TEST(ListObject, SortOrdersListsLexicographically) {
  ListObject list(nullptr, L({Value::list({2}), Value::list({1, 5}), Value::list({1})}));
  ASSERT_TRUE(IsOk(list.Sort(false)));
  EXPECT_EQ(list.Copy(), L({Value::list({1}), Value::list({1, 5}), Value::list({2})}));
}

TEST(ListObject, SortIsStable) {
  // sorted([1.0, 0, 1, True, 0.0]) == [0, 0.0, 1.0, 1, True], equal items in
  // their original order.
  ListObject list(nullptr, L({1.0, 0, 1, true, 0.0}));
  ASSERT_TRUE(IsOk(list.Sort(false)));
  EXPECT_EQ(TypeNames(list.Copy()), "int,float,float,int,bool");
}

TEST(ListObject, ReverseSortKeepsEqualItemsInOriginalOrder) {
  // sorted([1, 2.0, 1.0, 2, True], reverse=True) == [2.0, 2, 1, 1.0, True].
  ListObject list(nullptr, L({1, 2.0, 1.0, 2, true}));
  ASSERT_TRUE(IsOk(list.Sort(true)));
  EXPECT_EQ(list.Copy(), L({2, 2, 1, 1, 1}));
  EXPECT_EQ(TypeNames(list.Copy()), "float,int,int,float,bool");
}

TEST(ListObject, SortOfIncomparableItemsIsTypeErrorAndLeavesTheListUnchanged) {
  ListObject list(nullptr, L({3, "a", 1, 2.5}));
  EXPECT_TRUE(IsKind(list.Sort(false), ErrorKind::kTypeError));
  EXPECT_EQ(list.Copy(), L({3, "a", 1, 2.5}));
  EXPECT_TRUE(IsKind(list.Sort(true), ErrorKind::kTypeError));
  EXPECT_EQ(list.Copy(), L({3, "a", 1, 2.5}));
}

TEST(ListObject, SortTypeErrorNamesTheTypesAsPythonDoes) {
  // Python compares the second item with the first: 'a' < 1.
  ListObject list(nullptr, L({1, "a"}));
  EXPECT_TRUE(IsError(list.Sort(false), ErrorKind::kTypeError,
                      "'<' not supported between instances of 'str' and 'int'"));
  // A reverse sort works on the reversed list, so it tries 1 < 'a'.
  EXPECT_TRUE(IsError(list.Sort(true), ErrorKind::kTypeError,
                      "'<' not supported between instances of 'int' and 'str'"));
  EXPECT_EQ(list.Copy(), L({1, "a"}));
}

TEST(ListObject, SortWithNothingToCompareSucceeds) {
  ListObject single(nullptr, L({Value::dict({})}));
  EXPECT_TRUE(IsOk(single.Sort(false)));
  ListObject empty(nullptr);
  EXPECT_TRUE(IsOk(empty.Sort(true)));
}

TEST(ListObject, GetItemTakesNegativeIndexes) {
  ListObject list(nullptr, Range(10));
  EXPECT_EQ(*list.GetItem(0), Value(0));
  EXPECT_EQ(*list.GetItem(9), Value(9));
  EXPECT_EQ(*list.GetItem(-1), Value(9));
  EXPECT_EQ(*list.GetItem(-10), Value(0));
}

TEST(ListObject, GetItemOutOfRangeIsIndexError) {
  ListObject list(nullptr, Range(10));
  EXPECT_TRUE(IsError(list.GetItem(10), ErrorKind::kIndexError, "list index out of range"));
  EXPECT_TRUE(IsError(list.GetItem(-11), ErrorKind::kIndexError, "list index out of range"));
  EXPECT_TRUE(IsError(list.GetItem(std::numeric_limits<int64_t>::min()), ErrorKind::kIndexError,
                      "list index out of range"));
  ListObject empty(nullptr);
  EXPECT_TRUE(IsError(empty.GetItem(0), ErrorKind::kIndexError, "list index out of range"));
}

TEST(ListObject, SetItemReplacesInPlace) {
  ListObject list(nullptr, Range(3));
  ASSERT_TRUE(IsOk(list.SetItem(-1, "x")));
  ASSERT_TRUE(IsOk(list.SetItem(0, "y")));
  EXPECT_EQ(list.Copy(), L({"y", 1, "x"}));
}

TEST(ListObject, SetItemOutOfRangeIsIndexError) {
  ListObject list(nullptr, Range(3));
  EXPECT_TRUE(
      IsError(list.SetItem(3, "x"), ErrorKind::kIndexError, "list assignment index out of range"));
  EXPECT_TRUE(
      IsError(list.SetItem(-4, "x"), ErrorKind::kIndexError, "list assignment index out of range"));
  EXPECT_EQ(list.Copy(), Range(3));
}

TEST(ListObject, DelItemRemovesOne) {
  ListObject list(nullptr, Range(10));
  ASSERT_TRUE(IsOk(list.DelItem(-2)));
  ASSERT_TRUE(IsOk(list.DelItem(0)));
  EXPECT_EQ(list.Copy(), L({1, 2, 3, 4, 5, 6, 7, 9}));
}

TEST(ListObject, DelItemOutOfRangeIsIndexError) {
  ListObject list(nullptr, Range(3));
  EXPECT_TRUE(
      IsError(list.DelItem(100), ErrorKind::kIndexError, "list assignment index out of range"));
  EXPECT_TRUE(
      IsError(list.DelItem(-4), ErrorKind::kIndexError, "list assignment index out of range"));
  EXPECT_EQ(list.Copy(), Range(3));
}

struct SliceCase {
  std::optional<int64_t> start, stop, step;
  Value::List want;
};

TEST(ListObject, GetSliceWithEveryStepSign) {
  ListObject list(nullptr, Range(10));
  const SliceCase cases[] = {
      {kNone, kNone, kNone, Range(10)},
      {2, 5, kNone, L({2, 3, 4})},
      {-3, kNone, kNone, L({7, 8, 9})},
      {kNone, -7, kNone, L({0, 1, 2})},
      {5, 2, kNone, L({})},
      {100, kNone, kNone, L({})},
      {-100, 3, kNone, L({0, 1, 2})},
      {kNone, kNone, 2, L({0, 2, 4, 6, 8})},
      {1, 100, 3, L({1, 4, 7})},
      {kNone, kNone, -1, L({9, 8, 7, 6, 5, 4, 3, 2, 1, 0})},
      {8, 2, -2, L({8, 6, 4})},
      {-1, -4, -1, L({9, 8, 7})},
      {kNone, kNone, -3, L({9, 6, 3, 0})},
      {kNone, kNone, -4, L({9, 5, 1})},
      {2, kNone, -1, L({2, 1, 0})},
      {kNone, 2, -1, L({9, 8, 7, 6, 5, 4, 3})},
      {2, 8, -1, L({})},
      {100, -100, -5, L({9, 4})},
      {kNone, kNone, std::numeric_limits<int64_t>::min(), L({9})},
      {kNone, kNone, std::numeric_limits<int64_t>::max(), L({0})},
  };
  for (const SliceCase& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "[" << c.start.value_or(-999) << ":" << c.stop.value_or(-999) << ":"
                 << c.step.value_or(-999) << "] (-999 is None)");
    absl::StatusOr<Value::List> got = list.GetSlice(c.start, c.stop, c.step);
    ASSERT_TRUE(IsOk(got));
    EXPECT_EQ(*got, c.want);
  }
}

TEST(ListObject, SliceStepZeroIsValueError) {
  ListObject list(nullptr, Range(3));
  EXPECT_TRUE(
      IsError(list.GetSlice(kNone, kNone, 0), ErrorKind::kValueError, "slice step cannot be zero"));
  EXPECT_TRUE(IsError(list.SetSlice(kNone, kNone, 0, {}), ErrorKind::kValueError,
                      "slice step cannot be zero"));
  EXPECT_TRUE(
      IsError(list.DelSlice(kNone, kNone, 0), ErrorKind::kValueError, "slice step cannot be zero"));
  EXPECT_EQ(list.Copy(), Range(3));
}

struct SetSliceCase {
  std::optional<int64_t> start, stop, step;
  Value::List items;
  Value::List want;
};

TEST(ListObject, SetSliceReplacesSimpleRangesWithAnyNumberOfItems) {
  const SetSliceCase cases[] = {
      // a[2:5] = ['a']
      {2, 5, kNone, L({"a"}), L({0, 1, "a", 5, 6, 7, 8, 9})},
      // a[2:3] = ['a', 'b', 'c']
      {2, 3, kNone, L({"a", "b", "c"}), L({0, 1, "a", "b", "c", 3, 4, 5, 6, 7, 8, 9})},
      // a[5:2] = ['x', 'y']: an empty range at 5, so an insertion there.
      {5, 2, kNone, L({"x", "y"}), L({0, 1, 2, 3, 4, "x", "y", 5, 6, 7, 8, 9})},
      // a[1:1] = []
      {1, 1, kNone, L({}), Range(10)},
      // a[:] = []
      {kNone, kNone, kNone, L({}), L({})},
      // a[-2:] = ['end']
      {-2, kNone, kNone, L({"end"}), L({0, 1, 2, 3, 4, 5, 6, 7, "end"})},
      // a[10:] = ['end']: appends.
      {10, kNone, kNone, L({"end"}), L({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, "end"})},
      // a[-100:-100] = ['start']: prepends.
      {-100, -100, kNone, L({"start"}), L({"start", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})},
      // a[::1] = [1, 2]: an explicit step 1 is still a simple slice.
      {kNone, kNone, 1, L({1, 2}), L({1, 2})},
  };
  for (const SetSliceCase& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "[" << c.start.value_or(-999) << ":" << c.stop.value_or(-999) << ":"
                 << c.step.value_or(-999) << "] (-999 is None)");
    ListObject list(nullptr, Range(10));
    ASSERT_TRUE(IsOk(list.SetSlice(c.start, c.stop, c.step, c.items)));
    EXPECT_EQ(list.Copy(), c.want);
  }
}

TEST(ListObject, SetSliceReplacesExtendedSlicesItemForItem) {
  const SetSliceCase cases[] = {
      // a[::2] = ['a', 'b', 'c', 'd', 'e']
      {kNone, kNone, 2, L({"a", "b", "c", "d", "e"}), L({"a", 1, "b", 3, "c", 5, "d", 7, "e", 9})},
      // a[::-2] = ['a', 'b', 'c', 'd', 'e']: fills 9, 7, 5, 3, 1.
      {kNone, kNone, -2, L({"a", "b", "c", "d", "e"}), L({0, "e", 2, "d", 4, "c", 6, "b", 8, "a"})},
      // a[::-1] = range(10, 20): reversed.
      {kNone, kNone, -1, L({10, 11, 12, 13, 14, 15, 16, 17, 18, 19}),
       L({19, 18, 17, 16, 15, 14, 13, 12, 11, 10})},
      // a[8:2:-3] = ['x', 'y']: fills 8 and 5.
      {8, 2, -3, L({"x", "y"}), L({0, 1, 2, 3, 4, "y", 6, 7, "x", 9})},
      // a[5:2:2] = []: selects nothing, and nothing is given.
      {5, 2, 2, L({}), Range(10)},
  };
  for (const SetSliceCase& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "[" << c.start.value_or(-999) << ":" << c.stop.value_or(-999) << ":"
                 << c.step.value_or(-999) << "] (-999 is None)");
    ListObject list(nullptr, Range(10));
    ASSERT_TRUE(IsOk(list.SetSlice(c.start, c.stop, c.step, c.items)));
    EXPECT_EQ(list.Copy(), c.want);
  }
}

TEST(ListObject, SetExtendedSliceOfWrongSizeIsValueErrorAndChangesNothing) {
  ListObject list(nullptr, Range(10));
  EXPECT_TRUE(IsError(list.SetSlice(kNone, kNone, 2, L({1, 2})), ErrorKind::kValueError,
                      "attempt to assign sequence of size 2 to extended slice of size 5"));
  EXPECT_TRUE(IsError(list.SetSlice(1, 7, -2, L({1})), ErrorKind::kValueError,
                      "attempt to assign sequence of size 1 to extended slice of size 0"));
  EXPECT_TRUE(IsError(list.SetSlice(0, 9, 3, L({"a", "b"})), ErrorKind::kValueError,
                      "attempt to assign sequence of size 2 to extended slice of size 3"));
  EXPECT_EQ(list.Copy(), Range(10));
}

TEST(ListObject, DelSliceWithEveryStepSign) {
  const SliceCase cases[] = {
      {kNone, kNone, 2, L({1, 3, 5, 7, 9})},
      {kNone, kNone, -3, L({1, 2, 4, 5, 7, 8})},  // Removes 9, 6, 3, 0.
      {8, 2, -2, L({0, 1, 2, 3, 5, 7, 9})},       // Removes 8, 6, 4.
      {5, 2, kNone, Range(10)},
      {-3, kNone, kNone, Range(7)},
      {2, 5, kNone, L({0, 1, 5, 6, 7, 8, 9})},
      {kNone, kNone, kNone, L({})},
      {kNone, kNone, -1, L({})},
      {1, kNone, 4, L({0, 2, 3, 4, 6, 7, 8})},  // Removes 1, 5, 9.
      {2, 8, -1, Range(10)},
  };
  for (const SliceCase& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "del [" << c.start.value_or(-999) << ":" << c.stop.value_or(-999) << ":"
                 << c.step.value_or(-999) << "] (-999 is None)");
    ListObject list(nullptr, Range(10));
    ASSERT_TRUE(IsOk(list.DelSlice(c.start, c.stop, c.step)));
    EXPECT_EQ(list.Copy(), c.want);
  }
}

TEST(ListObject, LenContainsClearAndCopy) {
  ListObject list(nullptr, L({1, "a", Value::list({2})}));
  EXPECT_EQ(list.Len(), 3);
  EXPECT_TRUE(list.Contains(1.0));
  EXPECT_TRUE(list.Contains(Value::list({2})));
  EXPECT_FALSE(list.Contains("b"));
  Value::List copy = list.Copy();
  list.Clear();
  EXPECT_EQ(list.Len(), 0);
  EXPECT_EQ(copy, L({1, "a", Value::list({2})}));  // The copy is independent.
}

TEST(ListObject, RepeatRepeatsTheItems) {
  ListObject list(nullptr, L({1, "a"}));
  ASSERT_TRUE(IsOk(list.Repeat(3)));
  EXPECT_EQ(list.Copy(), L({1, "a", 1, "a", 1, "a"}));
  ASSERT_TRUE(IsOk(list.Repeat(1)));
  EXPECT_EQ(list.Len(), 6);
}

TEST(ListObject, RepeatByZeroOrLessClears) {
  ListObject list(nullptr, L({1, "a"}));
  ASSERT_TRUE(IsOk(list.Repeat(0)));
  EXPECT_EQ(list.Len(), 0);
  ListObject other(nullptr, L({1}));
  ASSERT_TRUE(IsOk(other.Repeat(-5)));
  EXPECT_EQ(other.Len(), 0);
}

TEST(ListObject, RepeatOfEmptyListStaysEmptyWhateverTheCount) {
  ListObject list(nullptr);
  EXPECT_TRUE(IsOk(list.Repeat(std::numeric_limits<int64_t>::max())));
  EXPECT_EQ(list.Len(), 0);
}

TEST(ListObject, RepeatTooLargeToCountIsLimitError) {
  ListObject list(nullptr, L({1, 2}));
  EXPECT_TRUE(IsKind(list.Repeat(std::numeric_limits<int64_t>::max()), ErrorKind::kLimitError));
  EXPECT_EQ(list.Copy(), L({1, 2}));
}

TEST(ListObject, ReprLikePython) {
  ListObject list(nullptr, L({1, "a", 2.5, Value(), true, Value::list({})}));
  EXPECT_EQ(list.Repr(), "[1, 'a', 2.5, None, True, []]");
  ListObject empty(nullptr);
  EXPECT_EQ(empty.Repr(), "[]");
}

TEST(ListObject, ReferencesAreVisitedAndMarked) {
  ListObject list(nullptr, L({1}));
  EXPECT_FALSE(list.may_hold_refs());
  ASSERT_TRUE(IsOk(list.Append(ObjectRef{7, Kind::kDict, nullptr})));
  ASSERT_TRUE(IsOk(list.Append(Value::list({ObjectRef{8, Kind::kList, nullptr}}))));
  EXPECT_TRUE(list.may_hold_refs());
  std::vector<uint64_t> ids;
  list.ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, (std::vector<uint64_t>{7, 8}));
}

TEST(ListObject, InitialReferencesMarkTheList) {
  absl::StatusOr<std::unique_ptr<ListObject>> list =
      ListObject::Create(nullptr, L({ObjectRef{3, Kind::kValue, nullptr}}));
  ASSERT_TRUE(IsOk(list));
  EXPECT_TRUE((*list)->may_hold_refs());
}

TEST(ListObject, CreateOverBudgetIsLimitErrorAndReservesNothing) {
  MemoryBudget budget(2 * kValueBytes);
  EXPECT_TRUE(IsKind(ListObject::Create(&budget, L({1, 2, 3})), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 0);
}

TEST(ListObject, WritesPastTheBudgetAreLimitErrorAndChangeNothing) {
  MemoryBudget budget(3 * kValueBytes);
  absl::StatusOr<std::unique_ptr<ListObject>> created = ListObject::Create(&budget, L({1, 2}));
  ASSERT_TRUE(IsOk(created));
  ListObject& list = **created;
  EXPECT_EQ(budget.used(), 2 * kValueBytes);
  ASSERT_TRUE(IsOk(list.Append(3)));
  EXPECT_EQ(budget.used(), 3 * kValueBytes);

  EXPECT_TRUE(IsKind(list.Append(4), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(list.Extend(L({4})), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(list.Insert(0, 4), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(list.SetItem(0, "longer"), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(list.SetSlice(0, 1, kNone, L({4, 5})), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(list.SetSlice(kNone, kNone, -3, L({"x"})), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(list.Repeat(2), ErrorKind::kLimitError));
  EXPECT_EQ(list.Copy(), L({1, 2, 3}));
  EXPECT_EQ(budget.used(), 3 * kValueBytes);

  // Replacing with items of the same size, or fewer, needs no room.
  EXPECT_TRUE(IsOk(list.SetItem(0, 9)));
  EXPECT_TRUE(IsOk(list.SetSlice(0, 2, kNone, L({"a"}))));
  EXPECT_EQ(list.Copy(), L({"a", 3}));
  EXPECT_EQ(budget.used(), 2 * kValueBytes + 1);
}

// A list of thousands of items spans many of its storage's blocks: each
// operation, checked against the same on a vector, and the bytes held
// against the items' own.
TEST(ListObject, ALongListSpanningManyBlocksBehavesAsAShortOne) {
  MemoryBudget budget(0);
  absl::StatusOr<std::unique_ptr<ListObject>> created = ListObject::Create(&budget);
  ASSERT_TRUE(IsOk(created));
  ListObject& list = **created;
  std::vector<int64_t> expected;
  const auto check = [&](const char* after) {
    Value::List want;
    for (int64_t v : expected) want.emplace_back(v);
    ASSERT_EQ(list.Copy(), want) << after;
    EXPECT_EQ(budget.used(), static_cast<int64_t>(expected.size()) * kValueBytes) << after;
  };
  for (int64_t i = 0; i < 3000; ++i) {
    ASSERT_TRUE(IsOk(list.Append((i * 7919) % 3001)));
    expected.push_back((i * 7919) % 3001);
  }
  check("append");
  ASSERT_TRUE(IsOk(list.Insert(700, -1)));
  expected.insert(expected.begin() + 700, -1);
  check("insert");
  absl::StatusOr<Value> popped = list.Pop(5);
  ASSERT_TRUE(IsOk(popped));
  EXPECT_EQ(*popped, Value(expected[5]));
  expected.erase(expected.begin() + 5);
  check("pop");
  // del lst[100:2900:3]
  ASSERT_TRUE(IsOk(list.DelSlice(100, 2900, 3)));
  std::vector<int64_t> kept;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i < 100 || i >= 2900 || (i - 100) % 3 != 0) kept.push_back(expected[i]);
  }
  expected = kept;
  check("del slice with a step");
  // lst[250:1250] = [0, 1, ..., 499]
  Value::List replacement;
  for (int64_t i = 0; i < 500; ++i) replacement.emplace_back(i);
  ASSERT_TRUE(IsOk(list.SetSlice(250, 1250, kNone, replacement)));
  expected.erase(expected.begin() + 250, expected.begin() + 1250);
  for (int64_t i = 0; i < 500; ++i) expected.insert(expected.begin() + 250 + i, i);
  check("set slice");
  ASSERT_TRUE(IsOk(list.DelSlice(10, 600, kNone)));
  expected.erase(expected.begin() + 10, expected.begin() + 600);
  check("del slice");
  ASSERT_TRUE(IsOk(list.Sort(false)));
  std::stable_sort(expected.begin(), expected.end());
  check("sort");
  list.Reverse();
  std::reverse(expected.begin(), expected.end());
  check("reverse");
  ASSERT_TRUE(IsOk(list.Repeat(3)));
  const std::vector<int64_t> once = expected;
  for (int copy = 1; copy < 3; ++copy) expected.insert(expected.end(), once.begin(), once.end());
  check("repeat");
  const int64_t sought = expected[expected.size() - 300];
  absl::StatusOr<int64_t> at = list.Index(Value(sought), kNone, kNone);
  ASSERT_TRUE(IsOk(at));
  EXPECT_EQ(*at, std::find(expected.begin(), expected.end(), sought) - expected.begin());
  EXPECT_EQ(list.Count(Value(sought)), std::count(expected.begin(), expected.end(), sought));
  EXPECT_GE(list.Count(Value(sought)), 3);  // Once in each copy at least.
  list.Clear();
  expected.clear();
  check("clear");
}

TEST(ListObject, ExtendInPlaceIsAllOrNothing) {
  MemoryBudget budget(4 * kValueBytes);
  absl::StatusOr<std::unique_ptr<ListObject>> created = ListObject::Create(&budget, L({1}));
  ASSERT_TRUE(IsOk(created));
  ListObject& list = **created;
  // Appended in place, and counted.
  std::optional<absl::Status> added = list.ExtendInPlace([](ListObject::Items* out) {
    out->emplace_back(int64_t{2});
    out->emplace_back(int64_t{3});
    return true;
  });
  ASSERT_TRUE(added.has_value());
  EXPECT_TRUE(IsOk(*added));
  EXPECT_EQ(list.Copy(), L({1, 2, 3}));
  EXPECT_EQ(budget.used(), 3 * kValueBytes);
  // Past the budget: LimitError, and what was appended is taken back.
  added = list.ExtendInPlace([](ListObject::Items* out) {
    out->emplace_back(int64_t{4});
    out->emplace_back(int64_t{5});
    return true;
  });
  ASSERT_TRUE(added.has_value());
  EXPECT_TRUE(IsKind(*added, ErrorKind::kLimitError));
  EXPECT_EQ(list.Copy(), L({1, 2, 3}));
  EXPECT_EQ(budget.used(), 3 * kValueBytes);
  // An item the appender cannot build: nothing changes, and no result.
  added = list.ExtendInPlace([](ListObject::Items* out) {
    out->emplace_back(int64_t{4});
    return false;
  });
  EXPECT_FALSE(added.has_value());
  EXPECT_EQ(list.Copy(), L({1, 2, 3}));
  EXPECT_EQ(budget.used(), 3 * kValueBytes);
}

TEST(ListObject, RemovalsGiveBytesBack) {
  MemoryBudget budget(0);
  absl::StatusOr<std::unique_ptr<ListObject>> created =
      ListObject::Create(&budget, L({"abc", 1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE(IsOk(created));
  ListObject& list = **created;
  const int64_t full = 7 * kValueBytes + 3;
  EXPECT_EQ(budget.used(), full);
  ASSERT_TRUE(IsOk(list.Pop(0)));
  EXPECT_EQ(budget.used(), full - kValueBytes - 3);
  ASSERT_TRUE(IsOk(list.Remove(1)));
  ASSERT_TRUE(IsOk(list.DelItem(-1)));
  EXPECT_EQ(budget.used(), 4 * kValueBytes);
  ASSERT_TRUE(IsOk(list.DelSlice(kNone, kNone, 2)));  // [2, 3, 4, 5] -> [3, 5]
  EXPECT_EQ(budget.used(), 2 * kValueBytes);
  ASSERT_TRUE(IsOk(list.Repeat(3)));
  EXPECT_EQ(budget.used(), 6 * kValueBytes);
  list.Clear();
  EXPECT_EQ(budget.used(), 0);
}

TEST(ListObject, DestructionGivesTheBudgetBack) {
  MemoryBudget budget(1000);
  {
    absl::StatusOr<std::unique_ptr<ListObject>> list = ListObject::Create(&budget, L({1, "x"}));
    ASSERT_TRUE(IsOk(list));
    ASSERT_TRUE(IsOk((*list)->Append("more")));
    EXPECT_GT(budget.used(), 0);
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(ListObject, ConcurrentAppendsAreAllKept) {
  MemoryBudget budget(0);
  ListObject list(&budget);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&list, t] {
      for (int i = 0; i < 1000; ++i) ASSERT_TRUE(list.Append(t * 1000 + i).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(list.Len(), 4000);
  EXPECT_EQ(budget.used(), 4000 * kValueBytes);
  // Every item arrived exactly once.
  ASSERT_TRUE(IsOk(list.Sort(false)));
  EXPECT_EQ(list.Copy(), Range(4000));
}

TEST(ListObject, ConcurrentAppendsAndPopsBalance) {
  ListObject list(nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&list] {
      for (int i = 0; i < 1000; ++i) ASSERT_TRUE(list.Append(i).ok());
    });
    threads.emplace_back([&list] {
      int popped = 0;
      while (popped < 1000) {
        if (list.Pop(std::nullopt).ok()) ++popped;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(list.Len(), 0);
}

}  // namespace
}  // namespace shoal::server
