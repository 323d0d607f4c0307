#include "server/objects/namespace_object.h"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;

using Attrs = std::vector<std::pair<std::string, Value>>;

TEST(NamespaceObject, IsANamespaceKind) {
  NamespaceObject ns(nullptr);
  EXPECT_EQ(ns.kind(), Kind::kNamespace);
  EXPECT_EQ(ns.Size(), 0);
}

TEST(NamespaceObject, SetAttrThenGetAttr) {
  NamespaceObject ns(nullptr);
  ASSERT_TRUE(IsOk(ns.SetAttr("x", 1)));
  ASSERT_TRUE(IsOk(ns.SetAttr("y", Value::list({"a"}))));
  EXPECT_EQ(*ns.GetAttr("x"), Value(1));
  EXPECT_EQ(*ns.GetAttr("y"), Value::list({"a"}));
  ASSERT_TRUE(IsOk(ns.SetAttr("x", "replaced")));
  EXPECT_EQ(*ns.GetAttr("x"), Value("replaced"));
  EXPECT_EQ(ns.Size(), 2);
}

TEST(NamespaceObject, GetMissingAttrIsAttributeError) {
  NamespaceObject ns(nullptr);
  EXPECT_TRUE(IsError(ns.GetAttr("foo"), ErrorKind::kAttributeError,
                      "'Namespace' object has no attribute 'foo'"));
}

TEST(NamespaceObject, DelAttrRemovesAndMissingIsAttributeError) {
  NamespaceObject ns(nullptr);
  ASSERT_TRUE(IsOk(ns.SetAttr("foo", 1)));
  ASSERT_TRUE(IsOk(ns.DelAttr("foo")));
  EXPECT_TRUE(IsKind(ns.GetAttr("foo"), ErrorKind::kAttributeError));
  EXPECT_TRUE(IsError(ns.DelAttr("foo"), ErrorKind::kAttributeError,
                      "'Namespace' object has no attribute 'foo'"));
}

TEST(NamespaceObject, EmptyNameIsValueError) {
  NamespaceObject ns(nullptr);
  EXPECT_TRUE(
      IsError(ns.SetAttr("", 1), ErrorKind::kValueError, "attribute name must not be empty"));
  EXPECT_EQ(ns.Size(), 0);
}

TEST(NamespaceObject, AttrsAreSortedByName) {
  NamespaceObject ns(nullptr);
  ASSERT_TRUE(IsOk(ns.SetAttr("b", "x")));
  ASSERT_TRUE(IsOk(ns.SetAttr("a", 1)));
  ASSERT_TRUE(IsOk(ns.SetAttr("C", 2.5)));
  Attrs attrs = ns.Attrs();
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[0].first, "C");
  EXPECT_EQ(attrs[1].first, "a");
  EXPECT_EQ(attrs[1].second, Value(1));
  EXPECT_EQ(attrs[2].first, "b");
}

TEST(NamespaceObject, ReprLikePython) {
  NamespaceObject ns(nullptr);
  EXPECT_EQ(ns.Repr(), "Namespace()");
  ASSERT_TRUE(IsOk(ns.SetAttr("b", "x")));
  ASSERT_TRUE(IsOk(ns.SetAttr("a", 1)));
  EXPECT_EQ(ns.Repr(), "Namespace(a=1, b='x')");
}

TEST(NamespaceObject, ReprLeavesOutPrivateNamesAsPythonDoes) {
  NamespaceObject ns(nullptr);
  ASSERT_TRUE(IsOk(ns.SetAttr("_hidden", 1)));
  ASSERT_TRUE(IsOk(ns.SetAttr("shown", 2)));
  EXPECT_EQ(ns.Repr(), "Namespace(shown=2)");
  EXPECT_EQ(*ns.GetAttr("_hidden"), Value(1));
}

TEST(NamespaceObject, ReprSortsTheNameValuePartsAsStrings) {
  // Python sorts ['a=1', 'a0=2']: '0' comes before '='.
  NamespaceObject ns(nullptr);
  ASSERT_TRUE(IsOk(ns.SetAttr("a", 1)));
  ASSERT_TRUE(IsOk(ns.SetAttr("a0", 2)));
  EXPECT_EQ(ns.Repr(), "Namespace(a0=2, a=1)");
}

TEST(NamespaceObject, CreateHoldsTheInitialAttrs) {
  absl::StatusOr<std::unique_ptr<NamespaceObject>> ns =
      NamespaceObject::Create(nullptr, Attrs{{"b", 2}, {"a", 1}, {"b", 3}});
  ASSERT_TRUE(IsOk(ns));
  EXPECT_EQ((*ns)->Repr(), "Namespace(a=1, b=3)");
}

TEST(NamespaceObject, CreateWithAnEmptyNameIsValueError) {
  EXPECT_TRUE(
      IsKind(NamespaceObject::Create(nullptr, Attrs{{"a", 1}, {"", 2}}), ErrorKind::kValueError));
}

TEST(NamespaceObject, ReferencesAreVisitedAndMarked) {
  NamespaceObject ns(nullptr);
  EXPECT_FALSE(ns.may_hold_refs());
  ASSERT_TRUE(IsOk(ns.SetAttr("q", ObjectRef{9, Kind::kQueue, nullptr})));
  EXPECT_TRUE(ns.may_hold_refs());
  std::vector<uint64_t> ids;
  ns.ForEachRef([&](const ObjectRef& ref) { ids.push_back(ref.id); });
  EXPECT_EQ(ids, std::vector<uint64_t>{9});
}

TEST(NamespaceObject, AttrsAreChargedLikeDictEntries) {
  MemoryBudget budget(0);
  NamespaceObject ns(&budget);
  ASSERT_TRUE(IsOk(ns.SetAttr("name", "value")));
  EXPECT_EQ(budget.used(), ApproxEntryBytes("name", "value"));
  ASSERT_TRUE(IsOk(ns.SetAttr("name", 1)));
  EXPECT_EQ(budget.used(), ApproxEntryBytes("name", 1));
  ASSERT_TRUE(IsOk(ns.DelAttr("name")));
  EXPECT_EQ(budget.used(), 0);
}

TEST(NamespaceObject, WritesPastTheBudgetAreLimitErrorAndChangeNothing) {
  MemoryBudget budget(ApproxEntryBytes("a", 1));
  NamespaceObject ns(&budget);
  ASSERT_TRUE(IsOk(ns.SetAttr("a", 1)));
  EXPECT_TRUE(IsKind(ns.SetAttr("b", 1), ErrorKind::kLimitError));
  EXPECT_TRUE(IsKind(ns.SetAttr("a", "longer"), ErrorKind::kLimitError));
  EXPECT_EQ(ns.Repr(), "Namespace(a=1)");
  EXPECT_EQ(budget.used(), ApproxEntryBytes("a", 1));
  EXPECT_TRUE(IsOk(ns.SetAttr("a", 2)));  // Same size: no room needed.
}

TEST(NamespaceObject, CreateOverBudgetIsLimitErrorAndReservesNothing) {
  MemoryBudget budget(10);
  EXPECT_TRUE(IsKind(NamespaceObject::Create(&budget, Attrs{{"a", 1}}), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 0);
}

TEST(NamespaceObject, DestructionGivesTheBudgetBack) {
  MemoryBudget budget(10000);
  {
    absl::StatusOr<std::unique_ptr<NamespaceObject>> ns =
        NamespaceObject::Create(&budget, Attrs{{"a", 1}});
    ASSERT_TRUE(IsOk(ns));
    ASSERT_TRUE(IsOk((*ns)->SetAttr("b", "text")));
    EXPECT_GT(budget.used(), 0);
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(NamespaceObject, ConcurrentSetAttrsAreAllKept) {
  NamespaceObject ns(nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ns, t] {
      for (int i = 0; i < 250; ++i) ASSERT_TRUE(ns.SetAttr(absl::StrCat("t", t, "_", i), i).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ns.Size(), 1000);
}

}  // namespace
}  // namespace shoal::server
