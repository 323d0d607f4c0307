#include "server/objects/memory_budget.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/objects/budget_account.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;

constexpr int64_t kValueBytes = static_cast<int64_t>(sizeof(Value));

TEST(MemoryBudget, ReservesUpToTheLimitInclusive) {
  MemoryBudget budget(100);
  EXPECT_TRUE(IsOk(budget.Reserve(60)));
  EXPECT_TRUE(IsOk(budget.Reserve(40)));
  EXPECT_EQ(budget.used(), 100);
  EXPECT_EQ(budget.limit(), 100);
}

TEST(MemoryBudget, ReservePastTheLimitIsLimitErrorAndReservesNothing) {
  MemoryBudget budget(100);
  ASSERT_TRUE(IsOk(budget.Reserve(90)));
  EXPECT_TRUE(IsKind(budget.Reserve(11), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 90);
  EXPECT_TRUE(IsOk(budget.Reserve(10)));
  EXPECT_EQ(budget.used(), 100);
}

TEST(MemoryBudget, ReleaseGivesBytesBack) {
  MemoryBudget budget(100);
  ASSERT_TRUE(IsOk(budget.Reserve(100)));
  budget.Release(30);
  EXPECT_EQ(budget.used(), 70);
  EXPECT_TRUE(IsOk(budget.Reserve(30)));
}

TEST(MemoryBudget, ZeroOrNegativeLimitIsUnlimited) {
  MemoryBudget zero(0);
  EXPECT_TRUE(IsOk(zero.Reserve(int64_t{1} << 50)));
  MemoryBudget negative(-1);
  EXPECT_TRUE(IsOk(negative.Reserve(int64_t{1} << 50)));
  EXPECT_EQ(negative.used(), int64_t{1} << 50);
}

TEST(MemoryBudget, UnlimitedBudgetRefusesACountThatWouldOverflow) {
  MemoryBudget budget(0);
  ASSERT_TRUE(IsOk(budget.Reserve(std::numeric_limits<int64_t>::max() - 10)));
  EXPECT_TRUE(IsKind(budget.Reserve(11), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), std::numeric_limits<int64_t>::max() - 10);
}

TEST(MemoryBudget, HugeRequestAgainstALimitIsLimitError) {
  MemoryBudget budget(100);
  ASSERT_TRUE(IsOk(budget.Reserve(50)));
  EXPECT_TRUE(IsKind(budget.Reserve(std::numeric_limits<int64_t>::max()), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 50);
}

TEST(MemoryBudget, ZeroAndNegativeAmountsChangeNothing) {
  MemoryBudget budget(10);
  EXPECT_TRUE(IsOk(budget.Reserve(0)));
  EXPECT_TRUE(IsOk(budget.Reserve(-5)));
  budget.Release(-5);
  EXPECT_EQ(budget.used(), 0);
}

TEST(MemoryBudget, ConcurrentReservationsNeverPassTheLimit) {
  MemoryBudget budget(2500);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (budget.Reserve(1).ok()) granted.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 2500);
  EXPECT_EQ(budget.used(), 2500);
}

TEST(ApproxBytes, ScalarsTakeOneValue) {
  EXPECT_EQ(ApproxBytes(Value()), kValueBytes);
  EXPECT_EQ(ApproxBytes(Value(true)), kValueBytes);
  EXPECT_EQ(ApproxBytes(Value(42)), kValueBytes);
  EXPECT_EQ(ApproxBytes(Value(2.5)), kValueBytes);
  EXPECT_EQ(ApproxBytes(Value(ObjectRef{7, Kind::kList, nullptr})), kValueBytes);
}

TEST(ApproxBytes, StringsAndBytesAddTheirLength) {
  EXPECT_EQ(ApproxBytes(Value("abc")), kValueBytes + 3);
  EXPECT_EQ(ApproxBytes(Value::bytes("hello")), kValueBytes + 5);
  EXPECT_EQ(ApproxBytes(Value("")), kValueBytes);
}

TEST(ApproxBytes, ListsAddTheirItemsRecursively) {
  EXPECT_EQ(ApproxBytes(Value::list({})), kValueBytes);
  EXPECT_EQ(ApproxBytes(Value::list({1, "ab"})), 3 * kValueBytes + 2);
  EXPECT_EQ(ApproxBytes(Value::list({Value::list({"xyz"}), 1})), 4 * kValueBytes + 3);
}

TEST(ApproxBytes, DictsAddTheirEntriesWithAnOverheadEach) {
  EXPECT_EQ(ApproxBytes(Value::dict({})), kValueBytes);
  // The dict, then key 'k' and value 1, plus the entry's overhead.
  EXPECT_EQ(ApproxBytes(Value::dict({{"k", 1}})),
            kValueBytes + (kValueBytes + 1) + kValueBytes + kDictEntryOverhead);
  EXPECT_EQ(ApproxBytes(Value::dict({{"a", Value::list({"bc"})}, {1, 2}})),
            kValueBytes + (kValueBytes + 1) + (2 * kValueBytes + 2) + kDictEntryOverhead +
                2 * kValueBytes + kDictEntryOverhead);
  EXPECT_GT(kDictEntryOverhead, 0);
}

TEST(ApproxBytes, EntryBytesAreBothValuesPlusTheOverhead) {
  EXPECT_EQ(ApproxEntryBytes(Value("key"), Value(1)),
            kValueBytes + 3 + kValueBytes + kDictEntryOverhead);
}

TEST(BudgetAccount, ReserveAndReleaseMoveTheBudget) {
  MemoryBudget budget(100);
  BudgetAccount account(&budget);
  ASSERT_TRUE(IsOk(account.Reserve(70)));
  EXPECT_EQ(account.held(), 70);
  EXPECT_EQ(budget.used(), 70);
  EXPECT_TRUE(IsKind(account.Reserve(31), ErrorKind::kLimitError));
  EXPECT_EQ(account.held(), 70);
  account.Release(20);
  EXPECT_EQ(account.held(), 50);
  EXPECT_EQ(budget.used(), 50);
}

TEST(BudgetAccount, AdjustReservesGrowthAndReleasesShrinkage) {
  MemoryBudget budget(100);
  BudgetAccount account(&budget);
  ASSERT_TRUE(IsOk(account.Adjust(90)));
  EXPECT_TRUE(IsKind(account.Adjust(11), ErrorKind::kLimitError));
  EXPECT_EQ(budget.used(), 90);
  // Shrinking never fails, even at the limit.
  EXPECT_TRUE(IsOk(account.Adjust(-40)));
  EXPECT_EQ(account.held(), 50);
  EXPECT_EQ(budget.used(), 50);
}

TEST(BudgetAccount, DestructionReleasesWhatIsHeld) {
  MemoryBudget budget(100);
  {
    BudgetAccount account(&budget);
    ASSERT_TRUE(IsOk(account.Reserve(60)));
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(BudgetAccount, AdoptedBytesAreReleasedWithTheAccount) {
  MemoryBudget budget(100);
  ASSERT_TRUE(IsOk(budget.Reserve(40)));
  {
    BudgetAccount account(&budget, 40);
    EXPECT_EQ(account.held(), 40);
    account.ReleaseAll();
    EXPECT_EQ(budget.used(), 0);
    EXPECT_EQ(account.held(), 0);
  }
  EXPECT_EQ(budget.used(), 0);
}

TEST(BudgetAccount, NullBudgetIsUnlimitedButCounts) {
  BudgetAccount account(nullptr);
  EXPECT_TRUE(IsOk(account.Reserve(int64_t{1} << 60)));
  EXPECT_EQ(account.held(), int64_t{1} << 60);
  account.ReleaseAll();
  EXPECT_EQ(account.held(), 0);
}

}  // namespace
}  // namespace shoal::server
