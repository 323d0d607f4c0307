#include "server/objects/dict_object.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;
using ::shoal::testing_util::TypeNames;

using Entries = std::vector<std::pair<Value, Value>>;

constexpr int64_t kValueBytes = static_cast<int64_t>(sizeof(Value));

Value::Dict D(std::initializer_list<std::pair<Value, Value>> entries) {
  return Value::dict(entries).as_dict();
}

Value::List L(std::initializer_list<Value> items) { return Value::List(items); }

TEST(DictObject, IsADictKind) {
  DictObject dict(nullptr);
  EXPECT_EQ(dict.kind(), Kind::kDict);
  EXPECT_EQ(dict.Len(), 0);
}

TEST(DictObject, CreateHoldsTheInitialEntries) {
  absl::StatusOr<std::unique_ptr<DictObject>> dict =
      DictObject::Create(nullptr, D({{"a", 1}, {"b", 2}}));
  ASSERT_TRUE(IsOk(dict));
  EXPECT_EQ((*dict)->Keys(), L({"a", "b"}));
  EXPECT_EQ((*dict)->Size(), 2);
}

TEST(DictObject, SetItemThenGetItem) {
  DictObject dict(nullptr);
  ASSERT_TRUE(IsOk(dict.SetItem("k", 1)));
  ASSERT_TRUE(IsOk(dict.SetItem(2, "two")));
  EXPECT_EQ(*dict.GetItem("k"), Value(1));
  EXPECT_EQ(*dict.GetItem(2), Value("two"));
}

TEST(DictObject, GetItemMissingIsKeyErrorWithTheKeysRepr) {
  DictObject dict(nullptr);
  EXPECT_TRUE(IsError(dict.GetItem("missing"), ErrorKind::kKeyError, "'missing'"));
  EXPECT_TRUE(IsError(dict.GetItem(5), ErrorKind::kKeyError, "5"));
  EXPECT_TRUE(IsError(dict.GetItem(Value()), ErrorKind::kKeyError, "None"));
}

TEST(DictObject, EqualNumbersAreOneKeyAndKeepTheFirstForm) {
  // d = {}; d[1] = 'a'; d[1.0] = 'b' leaves {1: 'b'}.
  DictObject dict(nullptr);
  ASSERT_TRUE(IsOk(dict.SetItem(1, "a")));
  ASSERT_TRUE(IsOk(dict.SetItem(1.0, "b")));
  EXPECT_EQ(dict.Len(), 1);
  EXPECT_EQ(TypeNames(dict.Keys()), "int");
  EXPECT_EQ(*dict.GetItem(true), Value("b"));
  EXPECT_EQ(dict.Repr(), "{1: 'b'}");
}

TEST(DictObject, OverwriteKeepsInsertionPosition) {
  DictObject dict(nullptr);
  ASSERT_TRUE(IsOk(dict.SetItem("a", 1)));
  ASSERT_TRUE(IsOk(dict.SetItem("b", 2)));
  ASSERT_TRUE(IsOk(dict.SetItem("c", 3)));
  ASSERT_TRUE(IsOk(dict.SetItem("a", 10)));
  EXPECT_EQ(dict.Keys(), L({"a", "b", "c"}));
  EXPECT_EQ(dict.Values(), L({10, 2, 3}));
}

TEST(DictObject, GetReturnsTheDefaultWhenMissing) {
  DictObject dict(nullptr, D({{"k", 1}}));
  EXPECT_EQ(*dict.Get("k", 42), Value(1));
  EXPECT_EQ(*dict.Get("x", 42), Value(42));
  EXPECT_EQ(*dict.Get("x", Value()), Value());
  EXPECT_EQ(dict.Len(), 1);  // get never stores.
}

TEST(DictObject, DelItemRemoves) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}}));
  ASSERT_TRUE(IsOk(dict.DelItem("a")));
  EXPECT_EQ(dict.Keys(), L({"b"}));
  EXPECT_TRUE(IsError(dict.DelItem("a"), ErrorKind::kKeyError, "'a'"));
  EXPECT_EQ(dict.Len(), 1);
}

TEST(DictObject, ContainsFollowsPythonEquality) {
  DictObject dict(nullptr, D({{1, "one"}, {"s", 2}}));
  EXPECT_TRUE(*dict.Contains(1));
  EXPECT_TRUE(*dict.Contains(1.0));
  EXPECT_TRUE(*dict.Contains(true));
  EXPECT_TRUE(*dict.Contains("s"));
  EXPECT_FALSE(*dict.Contains("one"));
  EXPECT_FALSE(*dict.Contains(Value::bytes("s")));
}

TEST(DictObject, SetDefaultStoresOnlyWhenMissing) {
  DictObject dict(nullptr, D({{"a", 1}}));
  EXPECT_EQ(*dict.SetDefault("a", 99), Value(1));
  EXPECT_EQ(*dict.GetItem("a"), Value(1));
  EXPECT_EQ(*dict.SetDefault("b", 2), Value(2));
  EXPECT_EQ(*dict.GetItem("b"), Value(2));
  EXPECT_EQ(dict.Keys(), L({"a", "b"}));
}

TEST(DictObject, PopRemovesAndReturns) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}}));
  EXPECT_EQ(*dict.Pop("a", std::nullopt), Value(1));
  EXPECT_EQ(dict.Keys(), L({"b"}));
}

TEST(DictObject, PopMissingReturnsTheDefaultOrIsKeyError) {
  DictObject dict(nullptr, D({{"a", 1}}));
  EXPECT_EQ(*dict.Pop("x", Value("dflt")), Value("dflt"));
  EXPECT_EQ(*dict.Pop("x", Value()), Value());  // A None default is a default.
  EXPECT_TRUE(IsError(dict.Pop("x", std::nullopt), ErrorKind::kKeyError, "'x'"));
  EXPECT_EQ(dict.Len(), 1);
}

TEST(DictObject, PopItemTakesTheLastInserted) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}}));
  ASSERT_TRUE(IsOk(dict.SetItem("a", 3)));  // Overwriting does not move "a".
  absl::StatusOr<std::pair<Value, Value>> entry = dict.PopItem();
  ASSERT_TRUE(IsOk(entry));
  EXPECT_EQ(entry->first, Value("b"));
  EXPECT_EQ(entry->second, Value(2));
  entry = dict.PopItem();
  ASSERT_TRUE(IsOk(entry));
  EXPECT_EQ(entry->first, Value("a"));
  EXPECT_EQ(entry->second, Value(3));
}

TEST(DictObject, PopItemFromEmptyIsKeyError) {
  DictObject dict(nullptr);
  EXPECT_TRUE(IsError(dict.PopItem(), ErrorKind::kKeyError, "'popitem(): dictionary is empty'"));
}

TEST(DictObject, UpdateAppliesEntriesInOrder) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}}));
  ASSERT_TRUE(IsOk(dict.Update(Entries{{"c", 3}, {"a", 10}, {"c", 30}, {"d", 4}})));
  EXPECT_EQ(dict.Keys(), L({"a", "b", "c", "d"}));
  EXPECT_EQ(dict.Values(), L({10, 2, 30, 4}));
}

TEST(DictObject, UpdateWithAnUnhashableKeyChangesNothing) {
  DictObject dict(nullptr, D({{"a", 1}}));
  EXPECT_TRUE(IsError(dict.Update(Entries{{"b", 2}, {Value::list({1}), 3}, {"c", 4}}),
                      ErrorKind::kTypeError, "unhashable type: 'list'"));
  EXPECT_EQ(dict.Keys(), L({"a"}));
}

TEST(DictObject, UnhashableKeysAreTypeErrorEverywhere) {
  DictObject dict(nullptr, D({{"a", 1}}));
  const Value list_key = Value::list({1});
  const Value dict_key = Value::dict({});
  const char* const kList = "unhashable type: 'list'";
  EXPECT_TRUE(IsError(dict.GetItem(list_key), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.Get(list_key, 0), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.SetItem(list_key, 0), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.DelItem(list_key), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.Contains(list_key), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.SetDefault(list_key, 0), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.Pop(list_key, Value(0)), ErrorKind::kTypeError, kList));
  EXPECT_TRUE(IsError(dict.SetItem(dict_key, 0), ErrorKind::kTypeError, "unhashable type: 'dict'"));
  EXPECT_EQ(dict.Keys(), L({"a"}));
}

TEST(DictObject, RefsAreHashableKeys) {
  DictObject dict(nullptr);
  ASSERT_TRUE(IsOk(dict.SetItem(ObjectRef{5, Kind::kList, nullptr}, "list five")));
  EXPECT_TRUE(dict.may_hold_refs());
  EXPECT_EQ(dict.Len(), 1);
}

TEST(DictObject, KeysValuesItemsInInsertionOrder) {
  DictObject dict(nullptr);
  ASSERT_TRUE(IsOk(dict.SetItem("z", 1)));
  ASSERT_TRUE(IsOk(dict.SetItem("a", 2)));
  ASSERT_TRUE(IsOk(dict.SetItem(3, Value::list({1}))));
  EXPECT_EQ(dict.Keys(), L({"z", "a", 3}));
  EXPECT_EQ(dict.Values(), L({1, 2, Value::list({1})}));
  Entries items = dict.Items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].first, Value("z"));
  EXPECT_EQ(items[2].second, Value::list({1}));
}

TEST(DictObject, LenClearAndCopy) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}}));
  EXPECT_EQ(dict.Len(), 2);
  Value::Dict copy = dict.Copy();
  dict.Clear();
  EXPECT_EQ(dict.Len(), 0);
  EXPECT_TRUE(copy == D({{"b", 2}, {"a", 1}}));  // dict == ignores order.
}

TEST(DictObject, ReprLikePython) {
  DictObject dict(nullptr, D({{"k", 1}, {2, Value::list({"x", 2.5})}, {Value(), true}}));
  EXPECT_EQ(dict.Repr(), "{'k': 1, 2: ['x', 2.5], None: True}");
  DictObject empty(nullptr);
  EXPECT_EQ(empty.Repr(), "{}");
}

TEST(DictObject, ReferencesInKeysAndValuesAreVisited) {
  DictObject dict(nullptr);
  EXPECT_FALSE(dict.may_hold_refs());
  ASSERT_TRUE(IsOk(dict.SetItem("v", ObjectRef{1, Kind::kQueue, nullptr})));
  ASSERT_TRUE(IsOk(dict.SetItem(ObjectRef{2, Kind::kLock, nullptr}, 0)));
  EXPECT_TRUE(dict.may_hold_refs());
  std::vector<uint64_t> ids;
  dict.ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2}));
}

TEST(DictObject, CreateOverBudgetIsLimitErrorAndReservesNothing) {
  MemoryBudget budget(10);
  EXPECT_TRUE(IsKind(DictObject::Create(&budget, D({{"a", 1}})), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 0);
}

TEST(DictObject, EntriesAreChargedAsApproxEntryBytes) {
  MemoryBudget budget(0);
  DictObject dict(&budget);
  ASSERT_TRUE(IsOk(dict.SetItem("key", "value")));
  EXPECT_EQ(budget.used(), ApproxEntryBytes("key", "value"));
  ASSERT_TRUE(IsOk(dict.SetItem("key", "v")));  // Only the value's share changes.
  EXPECT_EQ(budget.used(), ApproxEntryBytes("key", "v"));
  ASSERT_TRUE(IsOk(dict.SetItem(1, 2)));
  EXPECT_EQ(budget.used(), ApproxBytes(Value::dict({{"key", "v"}, {1, 2}})) - kValueBytes);
}

TEST(DictObject, WritesPastTheBudgetAreLimitErrorAndChangeNothing) {
  const int64_t entry = ApproxEntryBytes(1, 1);
  MemoryBudget budget(2 * entry);
  DictObject dict(&budget);
  ASSERT_TRUE(IsOk(dict.Update(Entries{{1, 1}, {2, 2}})));
  EXPECT_EQ(budget.used(), 2 * entry);

  EXPECT_TRUE(IsKind(dict.SetItem(3, 3), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(dict.SetItem(1, "longer"), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(dict.SetDefault(3, 3), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(dict.Update(Entries{{1, 10}, {3, 3}}), ErrorKind::kLimitError));
  EXPECT_EQ(dict.Keys(), L({1, 2}));
  EXPECT_EQ(dict.Values(), L({1, 2}));
  EXPECT_EQ(budget.used(), 2 * entry);

  // Overwrites of the same size need no room; a key repeated within one
  // update is charged once.
  EXPECT_TRUE(IsOk(dict.SetItem(1, 100)));
  EXPECT_TRUE(IsOk(dict.Update(Entries{{2, "a"}, {2, 20}, {1, 10}})));
  EXPECT_EQ(dict.Values(), L({10, 20}));
  EXPECT_EQ(budget.used(), 2 * entry);
}

TEST(DictObject, UpdateThatShrinksNeedsNoRoom) {
  MemoryBudget budget(0);
  DictObject dict(&budget, {});
  ASSERT_TRUE(IsOk(dict.SetItem("a", std::string(1000, 'x'))));
  const int64_t before = budget.used();
  MemoryBudget tight(before);
  // The same dict, charged to a budget that is exactly full.
  absl::StatusOr<std::unique_ptr<DictObject>> full = DictObject::Create(&tight, dict.Copy());
  ASSERT_TRUE(IsOk(full));
  // Shrinking "a" frees more than the new entry "b" costs.
  EXPECT_TRUE(IsOk((*full)->Update(Entries{{"a", 1}, {"b", 2}})));
  EXPECT_EQ(tight.used(), ApproxEntryBytes("a", 1) + ApproxEntryBytes("b", 2));
}

TEST(DictObject, RemovalsGiveBytesBack) {
  MemoryBudget budget(0);
  absl::StatusOr<std::unique_ptr<DictObject>> created =
      DictObject::Create(&budget, D({{"a", 1}, {"b", "two"}, {"c", 3}, {"d", 4}}));
  ASSERT_TRUE(IsOk(created));
  DictObject& dict = **created;
  ASSERT_TRUE(IsOk(dict.DelItem("a")));
  ASSERT_TRUE(IsOk(dict.Pop("b", std::nullopt)));
  EXPECT_EQ(budget.used(), ApproxEntryBytes("c", 3) + ApproxEntryBytes("d", 4));
  ASSERT_TRUE(IsOk(dict.PopItem()));
  EXPECT_EQ(budget.used(), ApproxEntryBytes("c", 3));
  dict.Clear();
  EXPECT_EQ(budget.used(), 0);
}

TEST(DictObject, DestructionGivesTheBudgetBack) {
  MemoryBudget budget(10000);
  {
    absl::StatusOr<std::unique_ptr<DictObject>> dict = DictObject::Create(&budget, D({{"a", 1}}));
    ASSERT_TRUE(IsOk(dict));
    ASSERT_TRUE(IsOk((*dict)->SetItem("b", "x")));
    EXPECT_GT(budget.used(), 0);
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(DictObject, ConcurrentSetsAreAllKept) {
  MemoryBudget budget(0);
  DictObject dict(&budget);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&dict, t] {
      for (int i = 0; i < 1000; ++i) ASSERT_TRUE(dict.SetItem(t * 1000 + i, i).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(dict.Len(), 4000);
  EXPECT_EQ(budget.used(), 4000 * ApproxEntryBytes(0, 0));
}

TEST(DictObject, ConcurrentSetDefaultStoresOnce) {
  DictObject dict(nullptr);
  std::vector<std::thread> threads;
  std::vector<Value> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&dict, &seen, t] {
      absl::StatusOr<Value> value = dict.SetDefault("k", t);
      ASSERT_TRUE(value.ok());
      seen[t] = *value;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Value stored = *dict.GetItem("k");
  for (const Value& value : seen) EXPECT_EQ(value, stored);
}

}  // namespace
}  // namespace shoal::server
