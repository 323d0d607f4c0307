#include "server/objects/lock_object.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shared/mutex.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/recorder.h"
#include "tests/unit/objects/test_util.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Recorder;
using ::shoal::testing_util::IsError;
using ::shoal::testing_util::IsOk;

bool IsTrue(const Outcome& outcome) { return outcome.status.ok() && outcome.value == Value(true); }
bool IsFalse(const Outcome& outcome) {
  return outcome.status.ok() && outcome.value == Value(false);
}

class LockObjectTest : public ::testing::Test {
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

  ManualTimers timers_;
  Recorder record_;
};

TEST_F(LockObjectTest, StartsUnlocked) {
  LockObject lock(Kind::kLock, &timers_);
  EXPECT_EQ(lock.kind(), Kind::kLock);
  EXPECT_FALSE(lock.Locked());
  EXPECT_EQ(lock.Repr(), "<Lock unlocked>");
  EXPECT_EQ(lock.Size(), 0);
  const LockObject::Description d = lock.Describe();
  EXPECT_FALSE(d.holder.has_value());
  EXPECT_EQ(d.recursion_count, 0);
  EXPECT_EQ(d.waiting, 0);
  EXPECT_EQ(d.last_fencing_token, 0);
}

TEST_F(LockObjectTest, AcquireOfFreeLockIsGrantedAtOnce) {
  LockObject lock(Kind::kLock, &timers_);
  EXPECT_EQ(lock.Acquire(Forever(3, "a")), 0u);
  const Outcome a = record_.Of("a");
  EXPECT_TRUE(IsTrue(a));
  EXPECT_EQ(a.fencing_token, 1);
  EXPECT_TRUE(lock.Locked());
  EXPECT_EQ(lock.Repr(), "<Lock locked by session 3, 0 waiting>");
  EXPECT_EQ(lock.Describe().holder, SessionId{3});
  EXPECT_EQ(lock.Describe().recursion_count, 1);
}

TEST_F(LockObjectTest, NonBlockingAcquireOfHeldLockIsFalseAtOnce) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  EXPECT_EQ(lock.Acquire(NoWait(2, "b")), 0u);
  EXPECT_TRUE(IsFalse(record_.Of("b")));
  // The same session waits like any other: a Lock is not re-entrant.
  EXPECT_EQ(lock.Acquire(NoWait(1, "c")), 0u);
  EXPECT_TRUE(IsFalse(record_.Of("c")));
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(lock.Describe().waiting, 0);
}

TEST_F(LockObjectTest, NonBlockingAcquireOfFreeLockSucceeds) {
  LockObject lock(Kind::kLock, &timers_);
  EXPECT_EQ(lock.Acquire(NoWait(1, "a")), 0u);
  EXPECT_TRUE(IsTrue(record_.Of("a")));
}

TEST_F(LockObjectTest, TimedAcquireTimesOutWithFalseAndIsNeverGranted) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  const WaitId b = lock.Acquire(Within(2, absl::Seconds(1), "b"));
  EXPECT_NE(b, 0u);
  EXPECT_EQ(lock.Repr(), "<Lock locked by session 1, 1 waiting>");
  timers_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(record_.size(), 1u);
  timers_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(IsFalse(record_.Of("b")));
  EXPECT_EQ(lock.Describe().waiting, 0);

  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_FALSE(lock.Locked());
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b"}));
  lock.Cancel(b);  // Completed already: a no-op.
  EXPECT_EQ(record_.size(), 2u);
}

TEST_F(LockObjectTest, ReleaseGrantsWaitersInArrivalOrder) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(2, "b"));
  lock.Acquire(Within(3, absl::Hours(1), "c"));
  lock.Acquire(Forever(4, "d"));
  EXPECT_EQ(lock.Describe().waiting, 3);

  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(lock.Describe().holder, SessionId{2});
  ASSERT_TRUE(IsOk(lock.Release(Caller{2})));
  EXPECT_EQ(lock.Describe().holder, SessionId{3});
  // The granted waiter's deadline timer is gone.
  EXPECT_EQ(timers_.pending(), 0u);
  ASSERT_TRUE(IsOk(lock.Release(Caller{3})));
  ASSERT_TRUE(IsOk(lock.Release(Caller{4})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_FALSE(lock.Locked());
}

TEST_F(LockObjectTest, FencingTokensGrowWithEveryGrant) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "1"));
  lock.Acquire(Forever(2, "2"));
  lock.Acquire(Forever(3, "3"));
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  ASSERT_TRUE(IsOk(lock.Release(Caller{2})));
  ASSERT_TRUE(IsOk(lock.Release(Caller{3})));
  lock.Acquire(Forever(1, "4"));
  int64_t last = 0;
  for (const char* label : {"1", "2", "3", "4"}) {
    const Outcome outcome = record_.Of(label);
    EXPECT_TRUE(IsTrue(outcome)) << label;
    EXPECT_GT(outcome.fencing_token, last) << label;
    last = outcome.fencing_token;
  }
  EXPECT_EQ(lock.Describe().last_fencing_token, last);
}

TEST_F(LockObjectTest, ReleasingAnUnlockedLockIsRuntimeError) {
  LockObject lock(Kind::kLock, &timers_);
  EXPECT_TRUE(IsError(lock.Release(Caller{1}), ErrorKind::kRuntimeError, "release unlocked lock"));
  lock.Acquire(Forever(1, "a"));
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_TRUE(IsError(lock.Release(Caller{1}), ErrorKind::kRuntimeError, "release unlocked lock"));
}

TEST_F(LockObjectTest, ReleaseByAnotherSessionIsRuntimeErrorAndChangesNothing) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(3, "c"));
  EXPECT_TRUE(IsError(lock.Release(Caller{2}), ErrorKind::kRuntimeError,
                      "cannot release a lock held by another session"));
  EXPECT_EQ(lock.Describe().holder, SessionId{1});
  EXPECT_EQ(lock.Describe().waiting, 1);
  EXPECT_EQ(record_.size(), 1u);
}

TEST_F(LockObjectTest, AnySessionMayReleaseWhenAllowed) {
  LockObject lock(Kind::kLock, &timers_, /*any_session_may_release=*/true);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(3, "c"));
  ASSERT_TRUE(IsOk(lock.Release(Caller{2})));
  EXPECT_TRUE(IsTrue(record_.Of("c")));
  EXPECT_EQ(lock.Describe().holder, SessionId{3});
  EXPECT_TRUE(lock.IsOwned(Caller{2}));
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_FALSE(lock.Locked());
  EXPECT_FALSE(lock.IsOwned(Caller{2}));
  EXPECT_TRUE(IsError(lock.Release(Caller{2}), ErrorKind::kRuntimeError, "release unlocked lock"));
}

TEST_F(LockObjectTest, RLockReentersForItsOwnerWithTheSameToken) {
  LockObject lock(Kind::kRLock, &timers_);
  EXPECT_EQ(lock.Repr(), "<RLock unlocked>");
  EXPECT_EQ(lock.Acquire(Forever(1, "a1")), 0u);
  EXPECT_EQ(lock.Acquire(NoWait(1, "a2")), 0u);
  EXPECT_EQ(lock.Acquire(Forever(1, "a3")), 0u);
  EXPECT_EQ(record_.Of("a1").fencing_token, 1);
  EXPECT_EQ(record_.Of("a2").fencing_token, 1);
  EXPECT_EQ(record_.Of("a3").fencing_token, 1);
  EXPECT_TRUE(IsTrue(record_.Of("a2")));
  EXPECT_EQ(lock.Describe().recursion_count, 3);
  EXPECT_EQ(lock.Repr(), "<RLock locked by session 1, count 3, 0 waiting>");

  lock.Acquire(Forever(2, "b"));
  EXPECT_TRUE(IsError(lock.Release(Caller{2}), ErrorKind::kRuntimeError,
                      "cannot release un-acquired lock"));
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_EQ(lock.Describe().recursion_count, 1);
  EXPECT_EQ(record_.size(), 3u);  // b still waits.
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  const Outcome b = record_.Of("b");
  EXPECT_TRUE(IsTrue(b));
  EXPECT_EQ(b.fencing_token, 2);
  EXPECT_TRUE(IsError(lock.Release(Caller{1}), ErrorKind::kRuntimeError,
                      "cannot release un-acquired lock"));
  ASSERT_TRUE(IsOk(lock.Release(Caller{2})));
  EXPECT_TRUE(IsError(lock.Release(Caller{2}), ErrorKind::kRuntimeError,
                      "cannot release un-acquired lock"));
}

TEST_F(LockObjectTest, AnySessionMayReleaseDoesNotApplyToRLock) {
  LockObject lock(Kind::kRLock, &timers_, /*any_session_may_release=*/true);
  lock.Acquire(Forever(1, "a"));
  EXPECT_TRUE(IsError(lock.Release(Caller{2}), ErrorKind::kRuntimeError,
                      "cannot release un-acquired lock"));
}

TEST_F(LockObjectTest, EndSessionReleasesToTheNextWaiter) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(2, "b"));
  lock.EndSession(1);
  EXPECT_TRUE(IsTrue(record_.Of("b")));
  EXPECT_EQ(lock.Describe().holder, SessionId{2});
  EXPECT_EQ(record_.Of("b").fencing_token, 2);
}

TEST_F(LockObjectTest, EndSessionReleasesAnRLockAtAnyCount) {
  LockObject lock(Kind::kRLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(1, "a"));
  lock.EndSession(1);
  EXPECT_FALSE(lock.Locked());
  EXPECT_EQ(lock.Describe().recursion_count, 0);
}

TEST_F(LockObjectTest, EndSessionCancelsTheSessionsWaitersOnly) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Within(2, absl::Seconds(5), "b1"));
  lock.Acquire(Forever(3, "c"));
  lock.Acquire(Forever(2, "b2"));
  lock.EndSession(2);
  EXPECT_EQ(record_.Of("b1").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(record_.Of("b2").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(lock.Describe().holder, SessionId{1});
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b1", "b2", "c"}));
  EXPECT_EQ(lock.Describe().holder, SessionId{3});
}

TEST_F(LockObjectTest, EndSessionOfAHolderThatAlsoWaitsDoesNotRegrantToIt) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(1, "a again"));
  lock.Acquire(Forever(2, "b"));
  lock.EndSession(1);
  EXPECT_EQ(record_.Of("a again").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(lock.Describe().holder, SessionId{2});
}

TEST_F(LockObjectTest, CancelledWaiterIsNeverGranted) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  const WaitId b = lock.Acquire(Within(2, absl::Seconds(5), "b"));
  lock.Acquire(Forever(3, "c"));
  lock.Cancel(b);
  EXPECT_EQ(record_.Of("b").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(timers_.pending(), 0u);
  lock.Cancel(b);
  lock.Cancel(12345);
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_EQ(lock.Describe().holder, SessionId{3});
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(LockObjectTest, DestructionCancelsParkedWaitersAndTheirTimers) {
  auto lock = std::make_unique<LockObject>(Kind::kLock, &timers_);
  lock->Acquire(Forever(1, "a"));
  lock->Acquire(Within(2, absl::Seconds(5), "b"));
  lock->Acquire(Forever(3, "c"));
  lock.reset();
  EXPECT_EQ(record_.Of("b").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(record_.Of("c").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(LockObjectTest, ACompletionMayCallBackIntoTheLock) {
  LockObject lock(Kind::kLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  // Each grant releases at once, from inside its completion.
  std::vector<SessionId> granted;
  for (SessionId s = 2; s <= 4; ++s) {
    lock.Acquire(WaitRequest{Caller{s}, std::nullopt, [&lock, &granted, s](Outcome outcome) {
                               ASSERT_TRUE(IsTrue(outcome));
                               granted.push_back(s);
                               ASSERT_TRUE(IsOk(lock.Release(Caller{s})));
                             }});
  }
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  EXPECT_EQ(granted, (std::vector<SessionId>{2, 3, 4}));
  EXPECT_FALSE(lock.Locked());
}

TEST_F(LockObjectTest, ACompletionMayDestroyTheLock) {
  auto lock = std::make_unique<LockObject>(Kind::kLock, &timers_);
  lock->Acquire(Forever(1, "a"));
  lock->Acquire(WaitRequest{Caller{2}, timers_.Now() + absl::Seconds(1), [&lock](Outcome outcome) {
                              EXPECT_TRUE(IsFalse(outcome));
                              lock.reset();
                            }});
  timers_.Advance(absl::Seconds(1));
  EXPECT_EQ(lock, nullptr);
}

TEST_F(LockObjectTest, AcquireRestoreIsANewGrantBehindTheWaiters) {
  LockObject lock(Kind::kRLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(2, "b"));
  // Even its holder's session waits its turn with a restore.
  EXPECT_NE(lock.AcquireRestore(Caller{1}, 4, record_.Track("restore")), 0u);
  ASSERT_TRUE(IsOk(lock.Release(Caller{1})));
  ASSERT_TRUE(IsOk(lock.Release(Caller{2})));
  const Outcome restore = record_.Of("restore");
  EXPECT_TRUE(IsTrue(restore));
  EXPECT_EQ(restore.fencing_token, 3);
  EXPECT_EQ(lock.Describe().recursion_count, 4);
}

TEST_F(LockObjectTest, ReleaseSaveReleasesFullyAfterTheHook) {
  LockObject lock(Kind::kRLock, &timers_);
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(1, "a"));
  lock.Acquire(Forever(2, "b"));
  int64_t saved = 0;
  EXPECT_FALSE(lock.ReleaseSave(Caller{2}, [&](int64_t count) {
    saved = count;
    return true;
  }));
  EXPECT_EQ(saved, 0);
  // A hook that says no keeps the lock where it is.
  EXPECT_TRUE(lock.ReleaseSave(Caller{1}, [](int64_t) { return false; }));
  EXPECT_EQ(lock.Describe().holder, SessionId{1});
  EXPECT_EQ(record_.size(), 2u);
  EXPECT_TRUE(lock.ReleaseSave(Caller{1}, [&](int64_t count) {
    saved = count;
    EXPECT_EQ(record_.size(), 2u);  // Not granted yet.
    return true;
  }));
  EXPECT_EQ(saved, 2);
  EXPECT_EQ(lock.Describe().holder, SessionId{2});
}

// Threads acquire through completions; a releaser thread releases each grant
// from another thread. Mutual exclusion holds throughout, every acquire is
// completed once, tokens grow, and no waiter is left at the end.
TEST_F(LockObjectTest, ConcurrentAcquireAndReleaseFromAnotherThread) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  LockObject lock(Kind::kLock, &timers_);
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  struct {
    Mutex mu;
    // Grants the releaser is to release, oldest first.
    std::deque<SessionId> granted ABSL_GUARDED_BY(mu);
    std::vector<int64_t> tokens ABSL_GUARDED_BY(mu);
  } shared;

  std::thread releaser([&] {
    for (int i = 0; i < kThreads * kRounds; ++i) {
      SessionId session;
      {
        MutexLock hold(&shared.mu);
        auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
          return !shared.granted.empty();
        };
        shared.mu.Await(Condition(&ready));
        session = shared.granted.front();
        shared.granted.pop_front();
      }
      inside.fetch_sub(1);
      EXPECT_TRUE(IsOk(lock.Release(Caller{session})));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, session = SessionId(t + 1)] {
      for (int round = 0; round < kRounds; ++round) {
        // Shared with the completion, which may still be inside Notify when
        // this thread sees it and moves on.
        auto done = std::make_shared<Notification>();
        lock.Acquire(WaitRequest{Caller{session}, std::nullopt, [&, done](Outcome outcome) {
                                   EXPECT_TRUE(IsTrue(outcome));
                                   if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
                                   {
                                     MutexLock hold(&shared.mu);
                                     shared.tokens.push_back(outcome.fencing_token);
                                     shared.granted.push_back(session);
                                   }
                                   done->Notify();
                                 }});
        // A non-blocking attempt now and then, which must never overlap.
        if (round % 10 == 0) {
          lock.Acquire(WaitRequest{Caller{session}, timers_.Now(), [&](Outcome outcome) {
                                     EXPECT_TRUE(outcome.status.ok());
                                     if (outcome.value == Value(true)) {
                                       // Granted: give it straight back.
                                       if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
                                       inside.fetch_sub(1);
                                       EXPECT_TRUE(IsOk(lock.Release(Caller{session})));
                                     }
                                   }});
        }
        done->WaitForNotification();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  releaser.join();

  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_FALSE(lock.Locked());
  EXPECT_EQ(lock.Describe().waiting, 0);
  MutexLock hold(&shared.mu);
  ASSERT_EQ(shared.tokens.size(), static_cast<size_t>(kThreads * kRounds));
  for (size_t i = 1; i < shared.tokens.size(); ++i) {
    EXPECT_LT(shared.tokens[i - 1], shared.tokens[i]);
  }
}

TEST_F(LockObjectTest, HeldNamesTheHolderWithItsCountAndTheWaitersPerSession) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  LockObject rlock(Kind::kRLock, &timers_);
  EXPECT_THAT(rlock.Held().held, IsEmpty());
  EXPECT_THAT(rlock.Held().waiting, IsEmpty());
  rlock.Acquire(Forever(1, "a1"));
  rlock.Acquire(Forever(1, "a2"));
  rlock.Acquire(Forever(2, "b1"));
  rlock.Acquire(Within(2, absl::Seconds(5), "b2"));
  rlock.Acquire(Forever(3, "c1"));
  Holdings holdings = rlock.Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(1u, 2)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(2u, 2), Pair(3u, 1)));

  timers_.Advance(absl::Seconds(5));  // b2 times out.
  ASSERT_TRUE(rlock.Release(Caller{1}).ok());
  ASSERT_TRUE(rlock.Release(Caller{1}).ok());  // b1 is granted.
  holdings = rlock.Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(2u, 1)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(3u, 1)));

  rlock.EndSession(2);  // c1 is granted.
  holdings = rlock.Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(3u, 1)));
  EXPECT_THAT(holdings.waiting, IsEmpty());
}

TEST_F(LockObjectTest, CountAcquiresLeavesOutTheRestoresOfConditionWaiters) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  LockObject lock(Kind::kLock, &timers_);
  SessionCounts counts;
  lock.CountAcquires(counts);
  EXPECT_THAT(counts, IsEmpty());
  lock.Acquire(Forever(1, "a1"));
  lock.Acquire(Forever(2, "b1"));
  lock.AcquireRestore(Caller{3}, 1, record_.Track("c restore"));
  lock.Acquire(Within(2, absl::Seconds(5), "b2"));
  lock.CountAcquires(counts);
  EXPECT_THAT(counts, UnorderedElementsAre(Pair(2u, 2)));
  // Held counts every parked call, the restore included.
  EXPECT_THAT(lock.Held().waiting, UnorderedElementsAre(Pair(2u, 2), Pair(3u, 1)));
}

}  // namespace
}  // namespace shoal::server
