// The soak's invariant checks: each holds on a clean history and fails on
// one that breaks it, so a soak run that passes means what it says.
#include "soak/invariants.h"

#include <gtest/gtest.h>

namespace shoal::soak {
namespace {

TEST(CheckCounterTest, HoldsWhenEveryAcknowledgedValueIsDistinct) {
  EXPECT_TRUE(CheckCounter("c", {3, 1, 2}, 3, 0).ok);
  // Two applied but never acknowledged: allowed up to the in-flight bound.
  EXPECT_TRUE(CheckCounter("c", {1, 4, 2}, 5, 2).ok);
  EXPECT_TRUE(CheckCounter("c", {}, 0, 0).ok);
}

TEST(CheckCounterTest, FailsOnAValueAcknowledgedTwice) {
  const Check check = CheckCounter("c", {1, 2, 2}, 3, 10);
  EXPECT_FALSE(check.ok);
  EXPECT_NE(check.detail.find("acknowledged twice"), std::string::npos) << check.detail;
}

TEST(CheckCounterTest, FailsWhenMoreWentUnacknowledgedThanWereInFlight) {
  EXPECT_FALSE(CheckCounter("c", {1, 2}, 5, 2).ok);
}

TEST(CheckCounterTest, FailsWhenAnAcknowledgedAddIsMissingFromTheFinalValue) {
  // Three acknowledged, final value 2: an add was lost.
  EXPECT_FALSE(CheckCounter("c", {1, 2, 3}, 2, 10).ok);
  EXPECT_FALSE(CheckCounter("c", {0, 1}, 2, 10).ok);
}

QueueLedger Ledger() {
  QueueLedger l;
  for (uint64_t seq = 1; seq <= 4; ++seq) l.attempted.insert(ItemKey(1, 0, seq));
  l.acked = {ItemKey(1, 0, 1), ItemKey(1, 0, 2), ItemKey(1, 0, 3)};
  l.rejected = {ItemKey(1, 0, 4)};
  l.received = {ItemKey(1, 0, 2), ItemKey(1, 0, 1), ItemKey(1, 0, 3)};
  return l;
}

TEST(CheckQueueTest, HoldsWhenEveryItemIsReceivedOnce) {
  EXPECT_TRUE(CheckQueue("q", Ledger(), 0).ok);
  // An item put but not acknowledged (its producer was killed) may arrive.
  QueueLedger l = Ledger();
  l.attempted.insert(ItemKey(2, 1, 1));
  l.received.push_back(ItemKey(2, 1, 1));
  EXPECT_TRUE(CheckQueue("q", l, 0).ok);
}

TEST(CheckQueueTest, FailsOnAnItemReceivedTwice) {
  QueueLedger l = Ledger();
  l.received.push_back(ItemKey(1, 0, 1));
  EXPECT_FALSE(CheckQueue("q", l, 10).ok);
}

TEST(CheckQueueTest, FailsOnAnItemNeverPutOrRefused) {
  QueueLedger l = Ledger();
  l.received.push_back(ItemKey(9, 0, 1));
  EXPECT_FALSE(CheckQueue("q", l, 10).ok);
  l = Ledger();
  l.received.push_back(ItemKey(1, 0, 4));  // put() said Full
  EXPECT_FALSE(CheckQueue("q", l, 10).ok);
}

TEST(CheckQueueTest, BoundsTheAcknowledgedItemsNeverReceived) {
  QueueLedger l = Ledger();
  l.received.pop_back();
  EXPECT_TRUE(CheckQueue("q", l, 1).ok);
  EXPECT_FALSE(CheckQueue("q", l, 0).ok);
}

TEST(ItemKeyTest, KeepsWorkerSessionAndSequenceApart) {
  EXPECT_NE(ItemKey(1, 2, 3), ItemKey(1, 3, 2));
  EXPECT_NE(ItemKey(2, 0, 0), ItemKey(0, 0, 2));
  EXPECT_NE(ItemKey(1, 255, 1), ItemKey(1, 0, 1));
}

TEST(CheckGrowthTest, BoundsGrowth) {
  EXPECT_TRUE(CheckGrowth("rss", 30000, 60000, 1.5, 20480, "KiB").ok);
  EXPECT_FALSE(CheckGrowth("rss", 30000, 70000, 1.5, 20480, "KiB").ok);
  EXPECT_TRUE(CheckGrowth("threads", 18, 22, 1.0, 4, "threads").ok);
  EXPECT_FALSE(CheckGrowth("threads", 18, 23, 1.0, 4, "threads").ok);
  // No sample (the process was not there) is a failure, not a pass.
  EXPECT_FALSE(CheckGrowth("threads", -1, 5, 1.0, 4, "threads").ok);
}

}  // namespace
}  // namespace shoal::soak
