#include "server/objects/parking_limits.h"

#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

using ::testing::HasSubstr;

TEST(ParkingLimitsTest, EachSessionParksUpToItsCap) {
  MemoryBudget budget(0);
  ParkingLimits limits(&budget, 2);
  absl::StatusOr<ParkingPermit> a = limits.Admit(1);
  absl::StatusOr<ParkingPermit> b = limits.Admit(1);
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<ParkingPermit> c = limits.Admit(1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ErrorKindOf(c.status()), ErrorKind::kLimitError);
  EXPECT_EQ(c.status().message(),
            "parked-call limit reached: this session has 2 calls waiting, the most "
            "--max-parked-per-session (2) allows");
  EXPECT_TRUE(limits.Admit(2).ok());  // Another session; its permit goes at once.
  EXPECT_EQ(limits.parked(1), 2);
  EXPECT_EQ(limits.parked(2), 0);
  EXPECT_EQ(budget.used(), 2 * kParkedCallBytes);
}

TEST(ParkingLimitsTest, APermitGivesItsChargeBackOnceWhereverItMoves) {
  MemoryBudget budget(0);
  ParkingLimits limits(&budget, 0);
  {
    ParkingPermit moved;
    {
      absl::StatusOr<ParkingPermit> permit = limits.Admit(7);
      ASSERT_TRUE(permit.ok());
      moved = *std::move(permit);
    }
    EXPECT_EQ(limits.parked(7), 1);
    ParkingPermit again(std::move(moved));
    moved = ParkingPermit();
    EXPECT_EQ(limits.total(), 1);
    again.Reset();
    EXPECT_EQ(limits.total(), 0);
    again.Reset();  // Holds nothing now.
  }
  EXPECT_EQ(limits.total(), 0);
  EXPECT_EQ(budget.used(), 0);
}

TEST(ParkingLimitsTest, TheMemoryBudgetBoundsEverySession) {
  MemoryBudget budget(kParkedCallBytes + 10);
  ParkingLimits limits(&budget, 0);
  absl::StatusOr<ParkingPermit> first = limits.Admit(1);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<ParkingPermit> second = limits.Admit(2);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(ErrorKindOf(second.status()), ErrorKind::kLimitError);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("cannot park the call (--max-bytes): memory limit reached"));
  EXPECT_EQ(limits.parked(2), 0);
  first->Reset();
  EXPECT_TRUE(limits.Admit(2).ok());
  EXPECT_EQ(budget.used(), 0);
}

TEST(ParkingLimitsTest, WithoutABudgetOnlyTheCapCounts) {
  ParkingLimits limits(nullptr, 1);
  absl::StatusOr<ParkingPermit> first = limits.Admit(1);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(limits.Admit(1).ok());
}

}  // namespace
}  // namespace shoal::server
