#include "server/objects/condition_object.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/objects/lock_object.h"
#include "server/objects/memory_budget.h"
#include "server/objects/parking_limits.h"
#include "shared/mutex.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/recorder.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Recorder;
using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsKind;
using ::shoal::testing_util::IsOk;

bool IsTrue(const Outcome& outcome) { return outcome.status.ok() && outcome.value == Value(true); }
bool IsFalse(const Outcome& outcome) {
  return outcome.status.ok() && outcome.value == Value(false);
}
bool IsCancelled(const Outcome& outcome) {
  return outcome.status.code() == absl::StatusCode::kCancelled;
}

class ConditionObjectTest : public ::testing::Test {
 protected:
  WaitRequest Forever(SessionId session, std::string label) {
    return WaitRequest{Caller{session}, std::nullopt, record_.Track(std::move(label))};
  }
  WaitRequest Within(SessionId session, absl::Duration timeout, std::string label) {
    return WaitRequest{Caller{session}, timers_.Now() + timeout, record_.Track(std::move(label))};
  }
  WaitRequest NoWait(SessionId session, std::string label) {
    return WaitRequest{Caller{session}, timers_.Now(), record_.Track(std::move(label))};
  }
  // Acquires the condition's lock for session, which must get it at once.
  void Hold(ConditionObject& cond, SessionId session) {
    bool granted = false;
    cond.Acquire(WaitRequest{Caller{session}, std::nullopt,
                             [&granted](Outcome outcome) { granted = IsTrue(outcome); }});
    ASSERT_TRUE(granted) << "session " << session;
  }
  std::optional<SessionId> Holder(ConditionObject& cond) { return cond.lock()->Describe().holder; }

  ManualTimers timers_;
  Recorder record_;
};

TEST_F(ConditionObjectTest, MakesItsOwnRLockByDefault) {
  ConditionObject cond(&timers_);
  EXPECT_EQ(cond.kind(), Kind::kCondition);
  ASSERT_NE(cond.lock(), nullptr);
  EXPECT_EQ(cond.lock()->kind(), Kind::kRLock);
  EXPECT_EQ(cond.Repr(), "<Condition(<RLock unlocked>), 0 waiting>");
  EXPECT_EQ(cond.Size(), 0);
}

TEST_F(ConditionObjectTest, AcquireAndReleaseAreTheLocks) {
  auto lock = std::make_shared<LockObject>(Kind::kLock, &timers_);
  ConditionObject cond(&timers_, lock);
  EXPECT_EQ(cond.lock(), lock);
  EXPECT_EQ(cond.Acquire(Forever(1, "a")), 0u);
  EXPECT_TRUE(lock->Locked());
  const WaitId b = cond.Acquire(Forever(2, "b"));
  EXPECT_NE(b, 0u);
  cond.Cancel(b);  // An Acquire made through the condition.
  EXPECT_TRUE(IsCancelled(record_.Of("b")));
  EXPECT_TRUE(IsOk(cond.Release(Caller{1})));
  EXPECT_FALSE(lock->Locked());
  EXPECT_TRUE(IsError(cond.Release(Caller{1}), ErrorKind::kRuntimeError, "release unlocked lock"));
}

TEST_F(ConditionObjectTest, WaitWithoutTheLockIsRuntimeError) {
  ConditionObject cond(&timers_);
  EXPECT_EQ(cond.Wait(Forever(1, "w")), 0u);
  EXPECT_TRUE(IsError(record_.Of("w").status, ErrorKind::kRuntimeError,
                      "cannot wait on un-acquired lock"));
  // Held by another session is no better.
  Hold(cond, 2);
  EXPECT_EQ(cond.Wait(Forever(1, "w2")), 0u);
  EXPECT_TRUE(IsError(record_.Of("w2").status, ErrorKind::kRuntimeError,
                      "cannot wait on un-acquired lock"));
  EXPECT_EQ(Holder(cond), SessionId{2});
  EXPECT_EQ(cond.NWaiting(), 0);
}

TEST_F(ConditionObjectTest, NotifyWithoutTheLockIsRuntimeError) {
  ConditionObject cond(&timers_);
  EXPECT_TRUE(IsError(cond.Notify(Caller{1}), ErrorKind::kRuntimeError,
                      "cannot notify on un-acquired lock"));
  EXPECT_TRUE(IsError(cond.NotifyAll(Caller{1}), ErrorKind::kRuntimeError,
                      "cannot notify on un-acquired lock"));
  Hold(cond, 2);
  EXPECT_TRUE(IsError(cond.Notify(Caller{1}, 3), ErrorKind::kRuntimeError,
                      "cannot notify on un-acquired lock"));
  EXPECT_TRUE(IsOk(cond.Notify(Caller{2})));  // Nobody waits: nothing happens.
  EXPECT_TRUE(
      IsError(cond.Notify(Caller{2}, -1), ErrorKind::kValueError, "n must be zero or more"));
}

TEST_F(ConditionObjectTest, WaitReleasesTheLockAndReturnsHoldingIt) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  const WaitId w = cond.Wait(Forever(1, "w"));
  EXPECT_NE(w, 0u);
  EXPECT_FALSE(cond.lock()->Locked());
  EXPECT_EQ(cond.NWaiting(), 1);
  EXPECT_EQ(cond.Repr(), "<Condition(<RLock unlocked>), 1 waiting>");

  Hold(cond, 2);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  EXPECT_EQ(cond.NWaiting(), 0);
  EXPECT_EQ(record_.size(), 0u);  // Notified, but the lock is still 2's.
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  const Outcome woken = record_.Of("w");
  EXPECT_TRUE(IsTrue(woken));
  EXPECT_EQ(Holder(cond), SessionId{1});
  EXPECT_EQ(woken.fencing_token, cond.lock()->Describe().last_fencing_token);
  EXPECT_EQ(woken.fencing_token, 3);
  cond.Cancel(w);  // Completed already: a no-op.
  EXPECT_EQ(record_.size(), 1u);
}

TEST_F(ConditionObjectTest, NotifyWakesTheOldestWaitersFirst) {
  ConditionObject cond(&timers_);
  for (SessionId s = 1; s <= 4; ++s) {
    Hold(cond, s);
    cond.Wait(Forever(s, "w" + std::to_string(s)));
  }
  EXPECT_EQ(cond.NWaiting(), 4);
  Hold(cond, 9);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{9}, 2)));
  EXPECT_EQ(cond.NWaiting(), 2);
  ASSERT_TRUE(IsOk(cond.Release(Caller{9})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"w1"}));
  ASSERT_TRUE(IsOk(cond.Release(Caller{1})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"w1", "w2"}));
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"w1", "w2", "w3"}));
  EXPECT_EQ(cond.NWaiting(), 1);
  ASSERT_TRUE(IsOk(cond.Release(Caller{3})));
  EXPECT_FALSE(cond.lock()->Locked());
}

TEST_F(ConditionObjectTest, NotifyAllWakesEveryWaiterInOrder) {
  ConditionObject cond(&timers_);
  for (SessionId s = 1; s <= 3; ++s) {
    Hold(cond, s);
    cond.Wait(Within(s, absl::Minutes(1), "w" + std::to_string(s)));
  }
  Hold(cond, 9);
  ASSERT_TRUE(IsOk(cond.NotifyAll(Caller{9})));
  EXPECT_EQ(cond.NWaiting(), 0);
  EXPECT_EQ(timers_.pending(), 0u);  // The deadlines are moot once notified.
  ASSERT_TRUE(IsOk(cond.Release(Caller{9})));
  for (SessionId s = 1; s <= 3; ++s) ASSERT_TRUE(IsOk(cond.Release(Caller{s})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"w1", "w2", "w3"}));
  int64_t last = 0;
  for (const char* label : {"w1", "w2", "w3"}) {
    const Outcome outcome = record_.Of(label);
    EXPECT_TRUE(IsTrue(outcome));
    EXPECT_GT(outcome.fencing_token, last);
    last = outcome.fencing_token;
  }
}

TEST_F(ConditionObjectTest, TimedOutWaitReturnsFalseOnceItHasTheLockAgain) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  cond.Wait(Within(1, absl::Seconds(2), "w"));
  Hold(cond, 2);
  timers_.Advance(absl::Seconds(2));
  EXPECT_EQ(record_.size(), 0u);  // Timed out, but the lock is 2's.
  EXPECT_EQ(cond.NWaiting(), 0);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));  // Too late for w.
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_TRUE(IsFalse(record_.Of("w")));
  EXPECT_EQ(Holder(cond), SessionId{1});
}

TEST_F(ConditionObjectTest, TimedOutWaitWithTheLockFreeCompletesAtTheDeadline) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  cond.Wait(Within(1, absl::Seconds(2), "w"));
  timers_.Advance(absl::Seconds(1));
  EXPECT_EQ(record_.size(), 0u);
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(IsFalse(record_.Of("w")));
  EXPECT_EQ(Holder(cond), SessionId{1});
}

TEST_F(ConditionObjectTest, WaitWithAPassedDeadlineStillLetsTheLockGo) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  // Nobody else wants the lock: it comes straight back.
  EXPECT_EQ(cond.Wait(NoWait(1, "w1")), 0u);
  EXPECT_TRUE(IsFalse(record_.Of("w1")));
  EXPECT_EQ(Holder(cond), SessionId{1});

  // A waiting acquirer goes first, as with Python's wait(0).
  cond.Acquire(Forever(2, "b"));
  EXPECT_NE(cond.Wait(NoWait(1, "w2")), 0u);
  EXPECT_TRUE(IsTrue(record_.Of("b")));
  EXPECT_FALSE(record_.Has("w2"));
  EXPECT_EQ(timers_.pending(), 0u);
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_TRUE(IsFalse(record_.Of("w2")));
  EXPECT_EQ(Holder(cond), SessionId{1});
}

// A wait that the parking limits refuse fails with their LimitError and
// leaves the lock with its caller; the re-acquire of an admitted wait is not
// charged, and every charge is given back.
TEST_F(ConditionObjectTest, ARefusedWaitKeepsTheLock) {
  MemoryBudget budget(0);
  ParkingLimits parking(&budget, 1);
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  const WaitId w = cond.Wait(WaitRequest{Caller{1, &parking}, std::nullopt, record_.Track("w")});
  EXPECT_NE(w, 0u);
  EXPECT_EQ(parking.parked(1), 1);
  Hold(cond, 1);
  EXPECT_EQ(cond.Wait(WaitRequest{Caller{1, &parking}, std::nullopt, record_.Track("refused")}),
            0u);
  EXPECT_TRUE(IsKind(record_.Of("refused").status, ErrorKind::kLimitError));
  EXPECT_EQ(Holder(cond), SessionId{1});
  EXPECT_EQ(cond.NWaiting(), 1);
  // wait(0) does not park: it is not refused.
  EXPECT_EQ(cond.Wait(WaitRequest{Caller{1, &parking}, timers_.Now(), record_.Track("w0")}), 0u);
  EXPECT_TRUE(IsFalse(record_.Of("w0")));

  ASSERT_TRUE(IsOk(cond.Notify(Caller{1})));
  EXPECT_EQ(parking.parked(1), 0);  // Left the condition's list; re-acquiring.
  ASSERT_TRUE(IsOk(cond.Release(Caller{1})));
  EXPECT_TRUE(IsTrue(record_.Of("w")));
  EXPECT_EQ(Holder(cond), SessionId{1});
  EXPECT_EQ(budget.used(), 0);
}

TEST_F(ConditionObjectTest, RLockRecursionCountIsRestored) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  Hold(cond, 1);
  Hold(cond, 1);
  EXPECT_EQ(cond.lock()->Describe().recursion_count, 3);
  cond.Wait(Forever(1, "w"));
  EXPECT_FALSE(cond.lock()->Locked());
  Hold(cond, 2);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_TRUE(IsTrue(record_.Of("w")));
  EXPECT_EQ(Holder(cond), SessionId{1});
  EXPECT_EQ(cond.lock()->Describe().recursion_count, 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(IsOk(cond.Release(Caller{1})));
  EXPECT_FALSE(cond.lock()->Locked());
  EXPECT_TRUE(IsError(cond.Release(Caller{1}), ErrorKind::kRuntimeError,
                      "cannot release un-acquired lock"));
}

TEST_F(ConditionObjectTest, WorksOverAPlainLock) {
  auto lock = std::make_shared<LockObject>(Kind::kLock, &timers_);
  ConditionObject cond(&timers_, lock);
  EXPECT_EQ(cond.Repr(), "<Condition(<Lock unlocked>), 0 waiting>");
  Hold(cond, 1);
  cond.Wait(Forever(1, "w"));
  EXPECT_FALSE(lock->Locked());
  Hold(cond, 2);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_TRUE(IsTrue(record_.Of("w")));
  EXPECT_EQ(lock->Describe().holder, SessionId{1});
  EXPECT_EQ(lock->Describe().recursion_count, 1);
}

TEST_F(ConditionObjectTest, CancelWhileWaitingForANotify) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  const WaitId w = cond.Wait(Within(1, absl::Seconds(5), "w"));
  Hold(cond, 2);
  cond.Wait(Forever(2, "x"));
  cond.Cancel(w);
  EXPECT_TRUE(IsCancelled(record_.Of("w")));
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(cond.NWaiting(), 1);
  // The cancelled waiter does not take the lock again, and is not notified.
  EXPECT_FALSE(cond.lock()->Locked());
  Hold(cond, 3);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{3})));
  ASSERT_TRUE(IsOk(cond.Release(Caller{3})));
  EXPECT_TRUE(IsTrue(record_.Of("x")));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"w", "x"}));
}

TEST_F(ConditionObjectTest, CancelWhileReacquiringNeverTakesTheLock) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  const WaitId w = cond.Wait(Forever(1, "w"));
  Hold(cond, 2);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  cond.Acquire(Forever(3, "c"));
  cond.Cancel(w);
  EXPECT_TRUE(IsCancelled(record_.Of("w")));
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_TRUE(IsTrue(record_.Of("c")));
  EXPECT_EQ(Holder(cond), SessionId{3});
  EXPECT_EQ(cond.lock()->Describe().waiting, 0);
}

TEST_F(ConditionObjectTest, EndSessionCancelsItsWaitsAndReleasesItsOwnLock) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  cond.Wait(Within(1, absl::Seconds(5), "w1"));
  Hold(cond, 2);
  cond.Wait(Forever(2, "w2"));
  Hold(cond, 1);
  cond.Acquire(Forever(3, "c"));
  cond.EndSession(1);
  EXPECT_TRUE(IsCancelled(record_.Of("w1")));
  EXPECT_EQ(timers_.pending(), 0u);
  // The condition's own lock is released by it: the next acquirer gets it.
  EXPECT_TRUE(IsTrue(record_.Of("c")));
  EXPECT_EQ(Holder(cond), SessionId{3});
  EXPECT_EQ(cond.NWaiting(), 1);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{3})));
  ASSERT_TRUE(IsOk(cond.Release(Caller{3})));
  EXPECT_TRUE(IsTrue(record_.Of("w2")));
}

TEST_F(ConditionObjectTest, EndSessionCancelsAReacquire) {
  ConditionObject cond(&timers_);
  Hold(cond, 1);
  cond.Wait(Forever(1, "w"));
  Hold(cond, 2);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  cond.EndSession(1);
  EXPECT_TRUE(IsCancelled(record_.Of("w")));
  ASSERT_TRUE(IsOk(cond.Release(Caller{2})));
  EXPECT_FALSE(cond.lock()->Locked());
}

TEST_F(ConditionObjectTest, EndSessionLeavesAGivenLockToItsOwnEndSession) {
  auto lock = std::make_shared<LockObject>(Kind::kRLock, &timers_);
  ConditionObject cond(&timers_, lock);
  Hold(cond, 1);
  Hold(cond, 1);
  cond.Acquire(Forever(3, "c"));
  cond.EndSession(1);
  EXPECT_EQ(lock->Describe().holder, SessionId{1});
  // Whoever ends sessions calls every object's EndSession, the lock's too;
  // in either order, nothing is released twice.
  lock->EndSession(1);
  EXPECT_TRUE(IsTrue(record_.Of("c")));
  cond.EndSession(1);
  lock->EndSession(1);
  EXPECT_EQ(lock->Describe().holder, SessionId{3});
  EXPECT_EQ(lock->Describe().recursion_count, 1);
}

TEST_F(ConditionObjectTest, LockEndSessionCancelsAReacquire) {
  auto lock = std::make_shared<LockObject>(Kind::kLock, &timers_);
  ConditionObject cond(&timers_, lock);
  Hold(cond, 1);
  cond.Wait(Forever(1, "w"));
  Hold(cond, 2);
  ASSERT_TRUE(IsOk(cond.Notify(Caller{2})));
  lock->EndSession(1);
  EXPECT_TRUE(IsCancelled(record_.Of("w")));
  cond.EndSession(1);
  EXPECT_EQ(record_.size(), 1u);
}

TEST_F(ConditionObjectTest, DestructionCancelsEveryWaiter) {
  auto lock = std::make_shared<LockObject>(Kind::kRLock, &timers_);
  auto cond = std::make_unique<ConditionObject>(&timers_, lock);
  Hold(*cond, 1);
  cond->Wait(Forever(1, "reacquiring"));
  Hold(*cond, 2);
  cond->Wait(Within(2, absl::Seconds(5), "waiting"));
  Hold(*cond, 3);
  ASSERT_TRUE(IsOk(cond->Notify(Caller{3})));  // The oldest now waits for the lock.
  EXPECT_EQ(lock->Describe().waiting, 1);
  cond.reset();
  EXPECT_TRUE(IsCancelled(record_.Of("waiting")));
  EXPECT_TRUE(IsCancelled(record_.Of("reacquiring")));
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(lock->Describe().waiting, 0);
  EXPECT_EQ(lock->Describe().holder, SessionId{3});
}

// Worker threads each wait on the condition again and again; a notifier
// thread keeps notifying every waiter. Every wait completes exactly once with
// True and the lock held, and at the end nothing is left waiting.
TEST_F(ConditionObjectTest, ConcurrentWaitAndNotify) {
  constexpr int kThreads = 3;
  constexpr int kRounds = 200;
  ConditionObject cond(&timers_);
  std::atomic<int> waits_done{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> inside{0};

  // Blocks the calling thread until session holds the lock.
  auto hold = [&cond](SessionId session) {
    // Shared with the completion, which may still be inside Notify when this
    // thread sees it and moves on.
    auto granted = std::make_shared<Notification>();
    cond.Acquire(WaitRequest{Caller{session}, std::nullopt, [granted](Outcome outcome) {
                               EXPECT_TRUE(IsTrue(outcome));
                               granted->Notify();
                             }});
    granted->WaitForNotification();
  };

  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, session = SessionId(t + 1)] {
      for (int round = 0; round < kRounds; ++round) {
        hold(session);
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        inside.fetch_sub(1);
        auto woken = std::make_shared<Notification>();
        cond.Wait(WaitRequest{Caller{session}, std::nullopt, [woken](Outcome outcome) {
                                EXPECT_TRUE(IsTrue(outcome));
                                woken->Notify();
                              }});
        woken->WaitForNotification();
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        EXPECT_TRUE(cond.lock()->IsOwned(Caller{session}));
        inside.fetch_sub(1);
        waits_done.fetch_add(1);
        EXPECT_TRUE(IsOk(cond.Release(Caller{session})));
      }
    });
  }
  std::thread notifier([&] {
    constexpr SessionId kNotifier = 100;
    while (waits_done.load() < kThreads * kRounds) {
      hold(kNotifier);
      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
      inside.fetch_sub(1);
      EXPECT_TRUE(IsOk(cond.NotifyAll(Caller{kNotifier})));
      EXPECT_TRUE(IsOk(cond.Release(Caller{kNotifier})));
      std::this_thread::yield();
    }
  });
  for (std::thread& worker : workers) worker.join();
  notifier.join();

  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(cond.NWaiting(), 0);
  EXPECT_FALSE(cond.lock()->Locked());
  EXPECT_EQ(cond.lock()->Describe().waiting, 0);
}

TEST_F(ConditionObjectTest, HeldNamesTheLocksHolderAndEveryCallThatWaits) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  ConditionObject cond(&timers_);
  EXPECT_THAT(cond.Held().held, IsEmpty());
  EXPECT_THAT(cond.Held().waiting, IsEmpty());
  Hold(cond, 1);
  cond.Wait(Forever(1, "w1"));
  Hold(cond, 2);
  Hold(cond, 2);
  cond.Wait(Forever(2, "w2"));
  Hold(cond, 1);
  cond.Wait(Within(1, absl::Seconds(5), "w3"));
  Hold(cond, 3);
  Holdings holdings = cond.Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(3u, 1)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1)));

  // An acquire parked on the lock waits too, as Describe of a Lock counts it.
  cond.Acquire(Forever(4, "a4"));
  EXPECT_THAT(cond.Held().waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1), Pair(4u, 1)));

  // Notified, w1 takes the lock again behind a4, parked on the lock: its
  // Wait has not answered, so it still counts, once.
  ASSERT_TRUE(cond.Notify(Caller{3}).ok());
  EXPECT_EQ(cond.lock()->Describe().waiting, 2);
  EXPECT_THAT(cond.Held().waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1), Pair(4u, 1)));
  ASSERT_TRUE(cond.Release(Caller{3}).ok());  // a4 gets the lock.
  holdings = cond.Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(4u, 1)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1)));
  ASSERT_TRUE(cond.Release(Caller{4}).ok());  // w1 gets it back.
  EXPECT_TRUE(IsTrue(record_.Of("w1")));
  holdings = cond.Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(1u, 1)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(1u, 1), Pair(2u, 1)));

  cond.EndSession(2);
  EXPECT_THAT(cond.Held().waiting, UnorderedElementsAre(Pair(1u, 1)));
}

// Over a given Lock, the calls waiting to acquire it through the lock's own
// proxy wait for the condition's lock too.
TEST_F(ConditionObjectTest, HeldCountsAcquiresMadeThroughTheGivenLock) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  auto lock = std::make_shared<LockObject>(Kind::kLock, &timers_);
  ConditionObject cond(&timers_, lock);
  Hold(cond, 1);
  lock->Acquire(Forever(2, "through the lock"));
  cond.Acquire(Forever(3, "through the condition"));
  EXPECT_THAT(lock->Held().waiting, UnorderedElementsAre(Pair(2u, 1), Pair(3u, 1)));
  EXPECT_THAT(cond.Held().waiting, UnorderedElementsAre(Pair(2u, 1), Pair(3u, 1)));
  cond.Wait(Forever(1, "w1"));  // lets the lock go: session 2 gets it
  EXPECT_TRUE(IsTrue(record_.Of("through the lock")));
  EXPECT_THAT(cond.Held().held, UnorderedElementsAre(Pair(2u, 1)));
  EXPECT_THAT(cond.Held().waiting, UnorderedElementsAre(Pair(1u, 1), Pair(3u, 1)));
  ASSERT_TRUE(cond.Notify(Caller{2}).ok());
  ASSERT_TRUE(lock->Release(Caller{2}).ok());  // session 3, then w1
  ASSERT_TRUE(lock->Release(Caller{3}).ok());
  EXPECT_TRUE(IsTrue(record_.Of("w1")));
  EXPECT_THAT(cond.Held().waiting, IsEmpty());
}

}  // namespace
}  // namespace shoal::server
