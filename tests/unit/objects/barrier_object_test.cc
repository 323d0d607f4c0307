#include "server/objects/barrier_object.h"

#include <algorithm>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shared/error_kind.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/recorder.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Recorder;
using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;

using Names = std::vector<std::string>;

class BarrierObjectTest : public ::testing::Test {
 protected:
  std::unique_ptr<BarrierObject> Make(int64_t parties,
                                      std::optional<absl::Duration> timeout = std::nullopt) {
    absl::StatusOr<std::unique_ptr<BarrierObject>> barrier =
        BarrierObject::Create(parties, timeout, &timers_);
    EXPECT_TRUE(barrier.ok()) << barrier.status();
    return barrier.ok() ? *std::move(barrier) : nullptr;
  }
  WaitRequest Request(std::string name, std::optional<absl::Time> deadline = std::nullopt,
                      SessionId session = 1) {
    return WaitRequest{Caller{session}, deadline, recorder_.Track(std::move(name))};
  }
  absl::Time In(absl::Duration d) { return timers_.Now() + d; }
  ::testing::AssertionResult IsBroken(const std::string& name) {
    return IsKind(recorder_.Of(name).status, ErrorKind::kBrokenBarrierError);
  }
  ::testing::AssertionResult IsCancelled(const std::string& name) {
    const absl::Status status = recorder_.Of(name).status;
    if (status.code() == absl::StatusCode::kCancelled) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << name << ": " << status;
  }

  ManualTimers timers_;
  Recorder recorder_;
};

TEST_F(BarrierObjectTest, PartiesBelowOneIsValueError) {
  EXPECT_TRUE(IsError(BarrierObject::Create(0, std::nullopt, &timers_), ErrorKind::kValueError,
                      "parties must be >= 1"));
  EXPECT_TRUE(
      IsKind(BarrierObject::Create(-3, absl::Seconds(1), &timers_), ErrorKind::kValueError));
}

TEST_F(BarrierObjectTest, StartsEmptyAndUnbroken) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  ASSERT_NE(barrier, nullptr);
  EXPECT_EQ(barrier->kind(), Kind::kBarrier);
  EXPECT_EQ(barrier->Parties(), 3);
  EXPECT_EQ(barrier->NWaiting(), 0);
  EXPECT_FALSE(barrier->Broken());
  EXPECT_EQ(barrier->Size(), 0);
  EXPECT_EQ(barrier->Repr(), "<Barrier 0/3 waiting>");
}

TEST_F(BarrierObjectTest, PartiesGoOnInLockstepWithOneIndexEachPerPass) {
  constexpr int kParties = 4;
  constexpr int kPasses = 5;
  std::unique_ptr<BarrierObject> barrier = Make(kParties);
  for (int pass = 0; pass < kPasses; ++pass) {
    recorder_.Clear();
    // A different party arrives first in each pass.
    std::vector<std::string> order;
    for (int i = 0; i < kParties; ++i) order.push_back("p" + std::to_string((i + pass) % kParties));
    for (int i = 0; i + 1 < kParties; ++i) {
      EXPECT_NE(barrier->Wait(Request(order[i])), 0u);
      EXPECT_EQ(barrier->NWaiting(), i + 1);
    }
    EXPECT_EQ(barrier->Repr(), "<Barrier 3/4 waiting>");
    EXPECT_TRUE(recorder_.log().empty()) << "pass " << pass;
    // The last arrival trips it and completes at once.
    EXPECT_EQ(barrier->Wait(Request(order.back())), 0u);
    EXPECT_EQ(barrier->NWaiting(), 0);

    ASSERT_EQ(recorder_.log().size(), static_cast<size_t>(kParties)) << "pass " << pass;
    std::vector<int64_t> indexes;
    for (int i = 0; i < kParties; ++i) {
      const Outcome outcome = recorder_.Of(order[i]);
      ASSERT_TRUE(outcome.status.ok()) << outcome.status;
      ASSERT_TRUE(outcome.value.is_int());
      // Arrival order gives the index.
      EXPECT_EQ(outcome.value.as_int(), i) << order[i] << " in pass " << pass;
      indexes.push_back(outcome.value.as_int());
    }
    std::sort(indexes.begin(), indexes.end());
    EXPECT_EQ(indexes, (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_FALSE(barrier->Broken());
  }
}

TEST_F(BarrierObjectTest, BarrierOfOneReturnsZeroAtOnceEveryTime) {
  std::unique_ptr<BarrierObject> barrier = Make(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(barrier->Wait(Request("w" + std::to_string(i), In(absl::Seconds(1)))), 0u);
  }
  // Even a wait that may not wait at all: it is the last party.
  EXPECT_EQ(barrier->Wait(Request("now", timers_.Now())), 0u);
  for (const Recorder::Entry& entry : recorder_.log()) {
    ASSERT_TRUE(entry.outcome.status.ok()) << entry.name;
    EXPECT_EQ(entry.outcome.value, Value(0));
  }
  EXPECT_EQ(recorder_.log().size(), 4u);
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(BarrierObjectTest, AbortBreaksItForWaitersAndLaterCallsUntilReset) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  barrier->Wait(Request("a"));
  barrier->Wait(Request("b", In(absl::Seconds(1))));
  barrier->Abort();
  EXPECT_EQ(recorder_.names(), (Names{"a", "b"}));
  EXPECT_TRUE(IsBroken("a"));
  EXPECT_TRUE(IsBroken("b"));
  EXPECT_TRUE(barrier->Broken());
  EXPECT_EQ(barrier->NWaiting(), 0);
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(barrier->Repr(), "<Barrier broken, 0/3 waiting>");

  EXPECT_EQ(barrier->Wait(Request("late")), 0u);
  EXPECT_TRUE(IsBroken("late"));
  EXPECT_EQ(barrier->NWaiting(), 0);

  barrier->Reset();
  EXPECT_FALSE(barrier->Broken());
  recorder_.Clear();
  barrier->Wait(Request("x"));
  barrier->Wait(Request("y"));
  barrier->Wait(Request("z"));
  EXPECT_EQ(recorder_.Of("x").value, Value(0));
  EXPECT_EQ(recorder_.Of("y").value, Value(1));
  EXPECT_EQ(recorder_.Of("z").value, Value(2));
}

TEST_F(BarrierObjectTest, AbortWithNobodyWaitingStillBreaksIt) {
  std::unique_ptr<BarrierObject> barrier = Make(2);
  barrier->Abort();
  EXPECT_TRUE(barrier->Broken());
  barrier->Wait(Request("a"));
  EXPECT_TRUE(IsBroken("a"));
}

TEST_F(BarrierObjectTest, ResetWhilePartiesWaitFailsThemAndStartsAFreshPass) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  barrier->Wait(Request("a"));
  barrier->Wait(Request("b", In(absl::Seconds(1))));
  barrier->Reset();
  EXPECT_EQ(recorder_.names(), (Names{"a", "b"}));
  EXPECT_TRUE(IsBroken("a"));
  EXPECT_TRUE(IsBroken("b"));
  // Unlike abort, a reset leaves it unbroken, with an empty pass.
  EXPECT_FALSE(barrier->Broken());
  EXPECT_EQ(barrier->NWaiting(), 0);
  EXPECT_EQ(timers_.pending(), 0u);

  recorder_.Clear();
  barrier->Wait(Request("c"));
  barrier->Wait(Request("d"));
  EXPECT_TRUE(recorder_.log().empty());
  barrier->Wait(Request("e"));
  EXPECT_EQ(recorder_.Of("c").value, Value(0));
  EXPECT_EQ(recorder_.Of("d").value, Value(1));
  EXPECT_EQ(recorder_.Of("e").value, Value(2));
}

TEST_F(BarrierObjectTest, ATimeoutBreaksItForEveryone) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  barrier->Wait(Request("a", In(absl::Seconds(1))));
  barrier->Wait(Request("b", In(absl::Seconds(5))));
  timers_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(recorder_.log().empty());
  timers_.Advance(absl::Milliseconds(1));
  // The one whose deadline passed gets BrokenBarrierError too, as in Python.
  EXPECT_EQ(recorder_.names(), (Names{"a", "b"}));
  EXPECT_TRUE(IsBroken("a"));
  EXPECT_TRUE(IsBroken("b"));
  EXPECT_TRUE(barrier->Broken());
  // b's timer went with it.
  EXPECT_EQ(timers_.pending(), 0u);

  EXPECT_EQ(barrier->Wait(Request("c")), 0u);
  EXPECT_TRUE(IsBroken("c"));
  timers_.Advance(absl::Seconds(10));
  EXPECT_EQ(recorder_.log().size(), 3u);
}

TEST_F(BarrierObjectTest, DefaultTimeoutAppliesToRequestsWithoutDeadline) {
  std::unique_ptr<BarrierObject> barrier = Make(2, absl::Seconds(5));
  barrier->Wait(Request("a"));
  EXPECT_EQ(timers_.pending(), 1u);
  timers_.Advance(absl::Milliseconds(4999));
  EXPECT_TRUE(recorder_.log().empty());
  timers_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(IsBroken("a"));
  EXPECT_TRUE(barrier->Broken());
}

TEST_F(BarrierObjectTest, ARequestDeadlineOverridesTheDefaultTimeout) {
  std::unique_ptr<BarrierObject> barrier = Make(2, absl::Seconds(5));
  barrier->Wait(Request("a", In(absl::Seconds(20))));
  timers_.Advance(absl::Seconds(10));
  EXPECT_TRUE(recorder_.log().empty());
  barrier->Wait(Request("b"));
  EXPECT_EQ(recorder_.Of("a").value, Value(0));
  EXPECT_EQ(recorder_.Of("b").value, Value(1));
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(BarrierObjectTest, AZeroDefaultTimeoutBreaksOnAnyArrivalButTheLast) {
  std::unique_ptr<BarrierObject> barrier = Make(2, absl::ZeroDuration());
  EXPECT_EQ(barrier->Wait(Request("a")), 0u);
  EXPECT_TRUE(IsBroken("a"));
  EXPECT_TRUE(barrier->Broken());
}

TEST_F(BarrierObjectTest, AnArrivalThatMayNotWaitTripsIfLastAndBreaksOtherwise) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  barrier->Wait(Request("a"));
  barrier->Wait(Request("b"));
  // The last party never waits, so a passed deadline does not matter.
  EXPECT_EQ(barrier->Wait(Request("c", timers_.Now())), 0u);
  EXPECT_EQ(recorder_.Of("c").value, Value(2));
  EXPECT_FALSE(barrier->Broken());

  recorder_.Clear();
  barrier->Wait(Request("d"));
  EXPECT_EQ(barrier->Wait(Request("e", In(-absl::Seconds(1)))), 0u);
  EXPECT_TRUE(IsBroken("d"));
  EXPECT_TRUE(IsBroken("e"));
  EXPECT_TRUE(barrier->Broken());
}

TEST_F(BarrierObjectTest, TrippingCancelsTheWaitersTimers) {
  std::unique_ptr<BarrierObject> barrier = Make(2);
  barrier->Wait(Request("a", In(absl::Seconds(1))));
  EXPECT_EQ(timers_.pending(), 1u);
  barrier->Wait(Request("b", In(absl::Seconds(1))));
  EXPECT_EQ(timers_.pending(), 0u);
  timers_.Advance(absl::Seconds(2));
  EXPECT_FALSE(barrier->Broken());
  EXPECT_EQ(recorder_.log().size(), 2u);
}

TEST_F(BarrierObjectTest, CancellingAWaitingPartyBreaksItForTheOthers) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  const WaitId a = barrier->Wait(Request("a", In(absl::Seconds(1))));
  barrier->Wait(Request("b"));
  barrier->Cancel(a);
  EXPECT_EQ(recorder_.names(), (Names{"a", "b"}));
  EXPECT_TRUE(IsCancelled("a"));
  EXPECT_TRUE(IsBroken("b"));
  EXPECT_TRUE(barrier->Broken());
  EXPECT_EQ(timers_.pending(), 0u);

  // Already completed: nothing more happens.
  barrier->Cancel(a);
  barrier->Reset();
  EXPECT_EQ(recorder_.log().size(), 2u);
}

TEST_F(BarrierObjectTest, CancellingACompletedWaitChangesNothing) {
  std::unique_ptr<BarrierObject> barrier = Make(2);
  const WaitId a = barrier->Wait(Request("a"));
  barrier->Wait(Request("b"));
  barrier->Cancel(a);
  barrier->Cancel(0);
  EXPECT_FALSE(barrier->Broken());
  EXPECT_EQ(recorder_.Of("a").value, Value(0));
}

TEST_F(BarrierObjectTest, EndOfAWaitingPartysSessionBreaksIt) {
  std::unique_ptr<BarrierObject> barrier = Make(4);
  barrier->Wait(Request("s1 a", std::nullopt, 1));
  barrier->Wait(Request("s2", std::nullopt, 2));
  barrier->Wait(Request("s1 b", In(absl::Seconds(1)), 1));
  // A session with no waiting party changes nothing.
  barrier->EndSession(3);
  EXPECT_TRUE(recorder_.log().empty());
  EXPECT_FALSE(barrier->Broken());

  barrier->EndSession(1);
  EXPECT_EQ(recorder_.names(), (Names{"s1 a", "s1 b", "s2"}));
  EXPECT_TRUE(IsCancelled("s1 a"));
  EXPECT_TRUE(IsCancelled("s1 b"));
  EXPECT_TRUE(IsBroken("s2"));
  EXPECT_TRUE(barrier->Broken());
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(BarrierObjectTest, DestroyingCancelsTimersAndAnswersParties) {
  std::unique_ptr<BarrierObject> barrier = Make(3);
  barrier->Wait(Request("a", In(absl::Seconds(1))));
  barrier->Wait(Request("b"));
  barrier.reset();
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_TRUE(IsCancelled("a"));
  EXPECT_TRUE(IsCancelled("b"));
}

// Threads that each wait for their own completion before arriving again go
// through the barrier in lockstep: the i-th wait of every thread belongs to
// pass i, and each pass hands out each index exactly once.
TEST_F(BarrierObjectTest, ThreadsGoThroughInLockstep) {
  constexpr int kParties = 4;
  constexpr int kPasses = 200;
  std::unique_ptr<BarrierObject> barrier = Make(kParties);
  std::vector<std::vector<int64_t>> indexes(kParties);
  std::vector<std::thread> threads;
  for (int t = 0; t < kParties; ++t) {
    threads.emplace_back([&, t] {
      for (int pass = 0; pass < kPasses; ++pass) {
        std::promise<Outcome> promise;
        std::future<Outcome> future = promise.get_future();
        barrier->Wait(WaitRequest{Caller{static_cast<SessionId>(t + 1)}, std::nullopt,
                                  [promise = std::move(promise)](Outcome outcome) mutable {
                                    promise.set_value(std::move(outcome));
                                  }});
        const Outcome outcome = future.get();
        ASSERT_TRUE(outcome.status.ok()) << outcome.status;
        indexes[t].push_back(outcome.value.as_int());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int pass = 0; pass < kPasses; ++pass) {
    std::set<int64_t> seen;
    for (int t = 0; t < kParties; ++t) seen.insert(indexes[t][pass]);
    EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2, 3})) << "pass " << pass;
  }
  EXPECT_FALSE(barrier->Broken());
}

// The last party arrives while the timer of a parked one fires. Either the
// barrier trips (everyone gets an index) or it breaks (everyone gets
// BrokenBarrierError); each party completes exactly once.
TEST_F(BarrierObjectTest, TrippingRacingATimeoutCompletesEveryPartyOnce) {
  for (int round = 0; round < 200; ++round) {
    std::unique_ptr<BarrierObject> barrier = Make(3);
    recorder_.Clear();
    barrier->Wait(Request("a", In(absl::Milliseconds(1))));
    barrier->Wait(Request("b"));
    std::thread timer([&] { timers_.Advance(absl::Milliseconds(1)); });
    barrier->Wait(Request("c"));
    timer.join();

    ASSERT_EQ(recorder_.log().size(), 3u) << "round " << round;
    const bool tripped = recorder_.Of("a").status.ok();
    for (const char* name : {"a", "b", "c"}) {
      const Outcome outcome = recorder_.Of(name);
      if (tripped) {
        EXPECT_TRUE(outcome.status.ok()) << name << ": " << outcome.status;
      } else {
        EXPECT_TRUE(IsBroken(name));
      }
    }
    EXPECT_EQ(barrier->Broken(), !tripped);
    EXPECT_EQ(timers_.pending(), 0u);
  }
}

TEST_F(BarrierObjectTest, HeldHasNoHoldersAndCountsTheWaitingPartiesPerSession) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  std::unique_ptr<BarrierObject> barrier = Make(4);
  EXPECT_THAT(barrier->Held().waiting, IsEmpty());
  barrier->Wait(Request("a", std::nullopt, 1));
  barrier->Wait(Request("b", std::nullopt, 2));
  barrier->Wait(Request("c", std::nullopt, 1));
  Holdings holdings = barrier->Held();
  EXPECT_THAT(holdings.held, IsEmpty());
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1)));
  barrier->Wait(Request("d", std::nullopt, 3));  // Trips the barrier.
  EXPECT_THAT(barrier->Held().waiting, IsEmpty());
  barrier->Wait(Request("e", std::nullopt, 3));
  EXPECT_THAT(barrier->Held().waiting, UnorderedElementsAre(Pair(3u, 1)));
}

}  // namespace
}  // namespace shoal::server
