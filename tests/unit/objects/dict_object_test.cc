#include "server/objects/dict_object.h"

#include <cstdint>
#include <functional>
#include <limits>
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

TEST(DictObject, AnUpdateWithRoomChargesExactlyWhatItTook) {
  MemoryBudget budget(1 << 20);
  DictObject dict(&budget);
  ASSERT_TRUE(IsOk(dict.SetItem("a", std::string(100, 'x'))));
  // New keys, a replaced value that shrinks, a key given twice.
  ASSERT_TRUE(IsOk(dict.Update(Entries{{"b", 1}, {"a", 2}, {"b", "longer value"}, {"c", 3}})));
  EXPECT_EQ(dict.Keys(), L({"a", "b", "c"}));
  EXPECT_EQ(dict.Values(), L({2, "longer value", 3}));
  EXPECT_EQ(budget.used(), ApproxEntryBytes("a", 2) + ApproxEntryBytes("b", "longer value") +
                               ApproxEntryBytes("c", 3));
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

// Iterates over dict's keys with NextKey, as a client does: each step gives
// back the cursor of the one before. Stops at the end or the first error,
// which it returns beside the keys seen; between steps calls between(i)
// with the number of keys seen so far.
struct Iterated {
  Value::List keys;
  absl::Status error;
};
Iterated IterateKeys(const DictObject& dict, const std::function<void(size_t)>& between = {}) {
  Iterated out;
  DictObject::KeyCursor cursor;
  for (;;) {
    absl::StatusOr<DictObject::KeyStep> step = dict.NextKey(cursor);
    if (!step.ok()) {
      out.error = step.status();
      return out;
    }
    if (!step->key.has_value()) return out;
    out.keys.push_back(*step->key);
    cursor = step->next;
    if (between) between(out.keys.size());
  }
}

TEST(DictObject, NextKeyWalksTheKeysInInsertionOrder) {
  DictObject dict(nullptr, D({{"z", 1}, {2, "b"}, {"a", 3}}));
  Iterated seen = IterateKeys(dict);
  EXPECT_TRUE(IsOk(seen.error));
  EXPECT_EQ(seen.keys, L({"z", 2, "a"}));

  DictObject empty(nullptr);
  absl::StatusOr<DictObject::KeyStep> step = empty.NextKey({});
  ASSERT_TRUE(IsOk(step));
  EXPECT_FALSE(step->key.has_value());
  EXPECT_EQ(step->next.size, 0);

  // The cursor: the key, the stamp and size as they are, and the position.
  step = dict.NextKey({});
  ASSERT_TRUE(IsOk(step));
  EXPECT_EQ(step->key, Value("z"));
  EXPECT_EQ(step->next.after, Value("z"));
  EXPECT_EQ(step->next.size, 3);
  EXPECT_EQ(step->next.index, 0);
  step = dict.NextKey(step->next);
  ASSERT_TRUE(IsOk(step));
  EXPECT_EQ(step->key, Value(2));
  EXPECT_EQ(step->next.index, 1);
  // A cursor may be given again: the same step, the same answer.
  DictObject::KeyCursor at_two = step->next;
  EXPECT_EQ(dict.NextKey(at_two)->key, Value("a"));
  EXPECT_EQ(dict.NextKey(at_two)->key, Value("a"));
}

TEST(DictObject, NextKeyGoesOnWhenOnlyValuesChange) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}, {"c", 3}}));
  Iterated seen = IterateKeys(dict, [&](size_t) {
    ASSERT_TRUE(IsOk(dict.SetItem("b", Value::list({1}))));
    ASSERT_TRUE(IsOk(dict.Update({{"a", 5}, {"c", 6}})));
    ASSERT_TRUE(IsOk(dict.SetDefault("a", 7)));
  });
  EXPECT_TRUE(IsOk(seen.error));
  EXPECT_EQ(seen.keys, L({"a", "b", "c"}));
}

TEST(DictObject, NextKeyAfterASizeChangeIsRuntimeError) {
  // Every way the size changes, made after the first key was returned.
  const std::vector<std::pair<std::string, std::function<void(DictObject&)>>> changes = {
      {"SetItem", [](DictObject& d) { ASSERT_TRUE(IsOk(d.SetItem("new", 1))); }},
      {"DelItem", [](DictObject& d) { ASSERT_TRUE(IsOk(d.DelItem("c"))); }},
      {"SetDefault", [](DictObject& d) { ASSERT_TRUE(IsOk(d.SetDefault("new", 1))); }},
      {"Pop", [](DictObject& d) { ASSERT_TRUE(IsOk(d.Pop("a", std::nullopt))); }},
      {"PopItem", [](DictObject& d) { ASSERT_TRUE(IsOk(d.PopItem())); }},
      {"Update",
       [](DictObject& d) {
         ASSERT_TRUE(IsOk(d.Update({{"a", 0}, {"new", 1}})));
       }},
      {"Clear", [](DictObject& d) { d.Clear(); }},
  };
  for (const auto& change : changes) {
    SCOPED_TRACE(change.first);
    DictObject dict(nullptr, D({{"a", 1}, {"b", 2}, {"c", 3}}));
    Iterated seen = IterateKeys(dict, [&](size_t n) {
      if (n == 1) change.second(dict);
    });
    EXPECT_EQ(seen.keys, L({"a"}));
    EXPECT_TRUE(
        IsError(seen.error, ErrorKind::kRuntimeError, "dictionary changed size during iteration"));
  }
  // After the last key too: the step that would end the iteration raises.
  DictObject dict(nullptr, D({{"a", 1}}));
  Iterated seen = IterateKeys(dict, [&](size_t) { ASSERT_TRUE(IsOk(dict.SetItem("b", 2))); });
  EXPECT_EQ(seen.keys, L({"a"}));
  EXPECT_TRUE(IsKind(seen.error, ErrorKind::kRuntimeError));
}

TEST(DictObject, NextKeyAfterKeysCameAndWentIsRuntimeError) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}, {"c", 3}}));
  Iterated seen = IterateKeys(dict, [&](size_t n) {
    if (n != 1) return;
    // The size is as it was, the keys are not: the key visited is moved to
    // the end, which no position-based walk could tell.
    ASSERT_TRUE(IsOk(dict.DelItem("a")));
    ASSERT_TRUE(IsOk(dict.SetItem("a", 1)));
  });
  EXPECT_EQ(seen.keys, L({"a"}));
  EXPECT_TRUE(
      IsError(seen.error, ErrorKind::kRuntimeError, "dictionary keys changed during iteration"));
}

TEST(DictObject, NextKeyRefusesABadCursor) {
  DictObject dict(nullptr, D({{"a", 1}, {"b", 2}}));
  absl::StatusOr<DictObject::KeyStep> first = dict.NextKey({});
  ASSERT_TRUE(IsOk(first));
  DictObject::KeyCursor cursor = first->next;
  cursor.after = Value::list({});
  EXPECT_TRUE(IsKind(dict.NextKey(cursor), ErrorKind::kTypeError));
  cursor.after = Value("missing");
  EXPECT_TRUE(IsError(dict.NextKey(cursor), ErrorKind::kValueError,
                      "the iteration's cursor names no key of the dict"));
  cursor.after = Value(std::numeric_limits<double>::quiet_NaN());
  cursor.index = 5;
  EXPECT_TRUE(IsKind(dict.NextKey(cursor), ErrorKind::kValueError));
  cursor.index = 0;  // "a" stands there, which is no NaN
  EXPECT_TRUE(IsKind(dict.NextKey(cursor), ErrorKind::kValueError));
  EXPECT_EQ(dict.Len(), 2);
}

TEST(DictObject, NextKeyFindsKeysUnequalToThemselvesByPosition) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  DictObject dict(nullptr);
  ASSERT_TRUE(IsOk(dict.SetItem("a", 1)));
  ASSERT_TRUE(IsOk(dict.SetItem(nan, 2)));
  ASSERT_TRUE(IsOk(dict.SetItem(nan, 3)));  // a second key: NaN is unequal to NaN
  ASSERT_TRUE(IsOk(dict.SetItem("b", 4)));
  Iterated seen = IterateKeys(dict);
  EXPECT_TRUE(IsOk(seen.error));
  ASSERT_EQ(seen.keys.size(), 4u);
  EXPECT_EQ(seen.keys[0], Value("a"));
  EXPECT_EQ(seen.keys[1].repr(), "nan");
  EXPECT_EQ(seen.keys[2].repr(), "nan");
  EXPECT_EQ(seen.keys[3], Value("b"));
}

// Each step finds its key by lookup, so iterating over n keys takes n steps of
// the same cost: with a cost that grew with the dict, this would not end in
// the test's time.
TEST(DictObject, NextKeyOverALargeDictTakesOneLookupPerKey) {
  constexpr int kKeys = 200000;
  DictObject dict(nullptr);
  std::vector<std::pair<Value, Value>> entries;
  for (int i = 0; i < kKeys; ++i) entries.emplace_back(Value("key " + std::to_string(i)), i);
  ASSERT_TRUE(IsOk(dict.Update(std::move(entries))));
  Iterated seen = IterateKeys(dict);
  EXPECT_TRUE(IsOk(seen.error));
  ASSERT_EQ(seen.keys.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(seen.keys.back(), Value("key " + std::to_string(kKeys - 1)));
}

}  // namespace
}  // namespace shoal::server
