#include "server/objects/semaphore_object.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
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
bool IsCancelled(const Outcome& outcome) {
  return outcome.status.code() == absl::StatusCode::kCancelled;
}

class SemaphoreObjectTest : public ::testing::Test {
 protected:
  std::unique_ptr<SemaphoreObject> Make(Kind kind, int64_t value,
                                        std::optional<bool> release_at_session_end = std::nullopt) {
    absl::StatusOr<std::unique_ptr<SemaphoreObject>> made =
        SemaphoreObject::Create(kind, value, &timers_, release_at_session_end);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *std::move(made) : nullptr;
  }
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

TEST_F(SemaphoreObjectTest, NegativeInitialValueIsValueError) {
  EXPECT_TRUE(IsError(SemaphoreObject::Create(Kind::kSemaphore, -1, &timers_),
                      ErrorKind::kValueError, "semaphore initial value must be >= 0"));
  EXPECT_TRUE(IsError(SemaphoreObject::Create(Kind::kBoundedSemaphore, -5, &timers_),
                      ErrorKind::kValueError, "semaphore initial value must be >= 0"));
  EXPECT_EQ(SemaphoreObject::Create(Kind::kLock, 1, &timers_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsOk(SemaphoreObject::Create(Kind::kSemaphore, 0, &timers_)));
}

TEST_F(SemaphoreObjectTest, AcquireTakesPermitsUntilNoneIsLeft) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 2);
  EXPECT_EQ(sem->kind(), Kind::kSemaphore);
  EXPECT_EQ(sem->Repr(), "<Semaphore value=2, 0 waiting>");
  EXPECT_EQ(sem->Size(), 0);
  EXPECT_EQ(sem->Acquire(Forever(1, "a")), 0u);
  EXPECT_EQ(sem->Acquire(NoWait(2, "b")), 0u);
  EXPECT_EQ(sem->Value(), 0);
  EXPECT_EQ(sem->Acquire(NoWait(3, "c")), 0u);
  EXPECT_TRUE(IsTrue(record_.Of("a")));
  EXPECT_TRUE(IsTrue(record_.Of("b")));
  EXPECT_TRUE(IsFalse(record_.Of("c")));
  EXPECT_EQ(record_.Of("a").fencing_token, 0);
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(sem->NWaiting(), 0);
}

TEST_F(SemaphoreObjectTest, TimedAcquireTimesOutAndNeverTakesAPermitLater) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 1);
  sem->Acquire(Forever(1, "a"));
  const WaitId b = sem->Acquire(Within(2, absl::Seconds(2), "b"));
  EXPECT_NE(b, 0u);
  EXPECT_EQ(sem->Repr(), "<Semaphore value=0, 1 waiting>");
  timers_.Advance(absl::Seconds(1));
  EXPECT_EQ(record_.size(), 1u);
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(IsFalse(record_.Of("b")));
  ASSERT_TRUE(IsOk(sem->Release(Caller{1})));
  EXPECT_EQ(sem->Value(), 1);
  EXPECT_EQ(sem->HeldBy(2), 0);
  EXPECT_EQ(record_.size(), 2u);
}

TEST_F(SemaphoreObjectTest, ReleaseWakesUpToNWaitersOldestFirst) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 0);
  sem->Acquire(Forever(1, "a"));
  sem->Acquire(Within(2, absl::Hours(1), "b"));
  sem->Acquire(Forever(3, "c"));
  EXPECT_EQ(sem->NWaiting(), 3);
  ASSERT_TRUE(IsOk(sem->Release(Caller{9}, 2)));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sem->Value(), 0);
  EXPECT_EQ(timers_.pending(), 0u);  // b's deadline went with its grant.
  ASSERT_TRUE(IsOk(sem->Release(Caller{9}, 3)));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sem->Value(), 2);
  EXPECT_EQ(sem->NWaiting(), 0);
}

TEST_F(SemaphoreObjectTest, ReleaseOfLessThanOneIsValueError) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 1);
  EXPECT_TRUE(IsError(sem->Release(Caller{1}, 0), ErrorKind::kValueError, "n must be one or more"));
  EXPECT_TRUE(
      IsError(sem->Release(Caller{1}, -3), ErrorKind::kValueError, "n must be one or more"));
  EXPECT_EQ(sem->Value(), 1);
}

TEST_F(SemaphoreObjectTest, SemaphoreMayBeReleasedPastItsInitialValue) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 1);
  ASSERT_TRUE(IsOk(sem->Release(Caller{1})));
  ASSERT_TRUE(IsOk(sem->Release(Caller{1}, 5)));
  EXPECT_EQ(sem->Value(), 7);
  EXPECT_TRUE(IsError(sem->Release(Caller{1}, std::numeric_limits<int64_t>::max()),
                      ErrorKind::kValueError, "semaphore value too large"));
  EXPECT_EQ(sem->Value(), 7);
}

TEST_F(SemaphoreObjectTest, BoundedSemaphoreOverReleaseChangesNothing) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kBoundedSemaphore, 3);
  EXPECT_EQ(sem->kind(), Kind::kBoundedSemaphore);
  EXPECT_TRUE(IsError(sem->Release(Caller{1}), ErrorKind::kValueError,
                      "Semaphore released too many times"));
  sem->Acquire(Forever(1, "a"));
  sem->Acquire(Forever(1, "b"));
  EXPECT_EQ(sem->Repr(), "<BoundedSemaphore value=1/3, 0 waiting>");
  EXPECT_TRUE(IsError(sem->Release(Caller{1}, 3), ErrorKind::kValueError,
                      "Semaphore released too many times"));
  EXPECT_EQ(sem->Value(), 1);
  EXPECT_EQ(sem->HeldBy(1), 2);
  ASSERT_TRUE(IsOk(sem->Release(Caller{1}, 2)));
  EXPECT_EQ(sem->Value(), 3);
  EXPECT_EQ(sem->HeldBy(1), 0);
  EXPECT_TRUE(IsError(sem->Release(Caller{2}), ErrorKind::kValueError,
                      "Semaphore released too many times"));
  EXPECT_EQ(sem->Value(), 3);
}

TEST_F(SemaphoreObjectTest, BoundedSemaphoreReleaseHandsPermitsToWaiters) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kBoundedSemaphore, 1);
  sem->Acquire(Forever(1, "a"));
  sem->Acquire(Forever(2, "b"));
  ASSERT_TRUE(IsOk(sem->Release(Caller{1})));
  EXPECT_TRUE(IsTrue(record_.Of("b")));
  EXPECT_EQ(sem->Value(), 0);
  EXPECT_TRUE(IsError(sem->Release(Caller{1}, 2), ErrorKind::kValueError,
                      "Semaphore released too many times"));
  ASSERT_TRUE(IsOk(sem->Release(Caller{2})));
  EXPECT_EQ(sem->Value(), 1);
}

TEST_F(SemaphoreObjectTest, PermitsHeldAreCountedPerSession) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 3);
  sem->Acquire(Forever(1, "a1"));
  sem->Acquire(Forever(1, "a2"));
  sem->Acquire(Forever(2, "b"));
  EXPECT_EQ(sem->HeldBy(1), 2);
  EXPECT_EQ(sem->HeldBy(2), 1);
  ASSERT_TRUE(IsOk(sem->Release(Caller{1})));
  EXPECT_EQ(sem->HeldBy(1), 1);
  // Another session's release does not count against session 1.
  ASSERT_TRUE(IsOk(sem->Release(Caller{3}, 2)));
  EXPECT_EQ(sem->HeldBy(1), 1);
  // Never below zero.
  ASSERT_TRUE(IsOk(sem->Release(Caller{2}, 4)));
  EXPECT_EQ(sem->HeldBy(2), 0);
  EXPECT_EQ(sem->HeldBy(3), 0);
  EXPECT_EQ(sem->Value(), 7);
}

TEST_F(SemaphoreObjectTest, EndSessionGivesBackItsPermitsToWaiters) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 2, /*release_at_session_end=*/true);
  sem->Acquire(Forever(1, "a1"));
  sem->Acquire(Forever(1, "a2"));
  sem->Acquire(Forever(2, "b"));
  sem->Acquire(Within(3, absl::Seconds(9), "c"));
  sem->Acquire(Forever(4, "d"));
  sem->EndSession(1);
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a1", "a2", "b", "c"}));
  EXPECT_TRUE(IsTrue(record_.Of("c")));
  EXPECT_EQ(sem->HeldBy(1), 0);
  EXPECT_EQ(sem->HeldBy(2), 1);
  EXPECT_EQ(sem->NWaiting(), 1);
  EXPECT_EQ(timers_.pending(), 0u);
  sem->EndSession(1);  // Nothing left: a no-op.
  EXPECT_EQ(sem->Value(), 0);
}

TEST_F(SemaphoreObjectTest, ByDefaultABoundedSemaphoreGivesBackAndASemaphoreDoesNot) {
  EXPECT_FALSE(SemaphoreObject::DefaultReleaseAtSessionEnd(Kind::kSemaphore));
  EXPECT_TRUE(SemaphoreObject::DefaultReleaseAtSessionEnd(Kind::kBoundedSemaphore));
  EXPECT_FALSE(Make(Kind::kSemaphore, 1)->ReleasesAtSessionEnd());
  EXPECT_TRUE(Make(Kind::kBoundedSemaphore, 1)->ReleasesAtSessionEnd());
  EXPECT_TRUE(Make(Kind::kSemaphore, 1, true)->ReleasesAtSessionEnd());
  EXPECT_FALSE(Make(Kind::kBoundedSemaphore, 1, false)->ReleasesAtSessionEnd());

  std::unique_ptr<SemaphoreObject> pool = Make(Kind::kBoundedSemaphore, 1);
  pool->Acquire(Forever(1, "pool holder"));
  pool->Acquire(Forever(2, "pool waiter"));
  pool->EndSession(1);
  EXPECT_TRUE(IsTrue(record_.Of("pool waiter")));
  EXPECT_EQ(pool->HeldBy(2), 1);
}

// The signal idiom: Semaphore(0), released by a producer, acquired by a
// consumer that then ends. The signal it took is not handed out again.
TEST_F(SemaphoreObjectTest, ASemaphoreKeepsTheSignalsAnEndedSessionTook) {
  for (Kind kind : {Kind::kSemaphore, Kind::kBoundedSemaphore}) {
    SCOPED_TRACE(KindName(kind));
    // A BoundedSemaphore cannot be released past its initial value, so its
    // signal starts taken.
    const bool bounded = kind == Kind::kBoundedSemaphore;
    std::unique_ptr<SemaphoreObject> signal =
        Make(kind, bounded ? 1 : 0, /*release_at_session_end=*/false);
    if (bounded) signal->Acquire(Forever(3, std::string("setup ") + KindName(kind)));
    ASSERT_TRUE(IsOk(signal->Release(Caller{1})));  // the producer signals
    const std::string consumed = std::string("consumed ") + KindName(kind);
    signal->Acquire(Forever(2, consumed));
    EXPECT_TRUE(IsTrue(record_.Of(consumed)));
    EXPECT_EQ(signal->HeldBy(2), 1);
    const std::string next = std::string("next consumer ") + KindName(kind);
    signal->Acquire(Forever(4, next));
    signal->EndSession(2);
    EXPECT_EQ(signal->Value(), 0);
    EXPECT_EQ(signal->HeldBy(2), 0);  // nor is it shown as held any more
    EXPECT_EQ(signal->NWaiting(), 1);
    EXPECT_FALSE(record_.Has(next));
    ASSERT_TRUE(IsOk(signal->Release(Caller{1})));  // the next signal
    EXPECT_TRUE(IsTrue(record_.Of(next)));
  }
}

TEST_F(SemaphoreObjectTest, EndSessionCancelsTheSessionsWaiters) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 1);
  sem->Acquire(Forever(1, "a"));
  sem->Acquire(Within(2, absl::Seconds(9), "b1"));
  sem->Acquire(Forever(3, "c"));
  sem->Acquire(Forever(2, "b2"));
  sem->EndSession(2);
  EXPECT_TRUE(IsCancelled(record_.Of("b1")));
  EXPECT_TRUE(IsCancelled(record_.Of("b2")));
  EXPECT_EQ(timers_.pending(), 0u);
  ASSERT_TRUE(IsOk(sem->Release(Caller{1})));
  EXPECT_TRUE(IsTrue(record_.Of("c")));
  EXPECT_EQ(sem->NWaiting(), 0);
}

TEST_F(SemaphoreObjectTest, BoundedSemaphoreTakesBackOnlyUpToItsInitialValue) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kBoundedSemaphore, 2);
  sem->Acquire(Forever(1, "a1"));
  sem->Acquire(Forever(1, "a2"));
  // Session 2 releases on session 1's behalf, as a signalling pattern does.
  ASSERT_TRUE(IsOk(sem->Release(Caller{2})));
  EXPECT_EQ(sem->HeldBy(1), 2);
  sem->EndSession(1);
  EXPECT_EQ(sem->Value(), 2);
}

TEST_F(SemaphoreObjectTest, CancelledWaiterNeverGetsAPermit) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 0);
  const WaitId a = sem->Acquire(Within(1, absl::Seconds(3), "a"));
  sem->Acquire(Forever(2, "b"));
  sem->Cancel(a);
  EXPECT_TRUE(IsCancelled(record_.Of("a")));
  EXPECT_EQ(timers_.pending(), 0u);
  sem->Cancel(a);
  ASSERT_TRUE(IsOk(sem->Release(Caller{3})));
  EXPECT_TRUE(IsTrue(record_.Of("b")));
  EXPECT_EQ(sem->HeldBy(1), 0);
  timers_.Advance(absl::Seconds(5));
  EXPECT_EQ(record_.names(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(SemaphoreObjectTest, DestructionCancelsParkedWaiters) {
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 0);
  sem->Acquire(Within(1, absl::Seconds(3), "a"));
  sem->Acquire(Forever(2, "b"));
  sem.reset();
  EXPECT_TRUE(IsCancelled(record_.Of("a")));
  EXPECT_TRUE(IsCancelled(record_.Of("b")));
  EXPECT_EQ(timers_.pending(), 0u);
}

// Threads take permits through completions and give them back from another
// thread; never more holders than permits, and nothing left waiting.
TEST_F(SemaphoreObjectTest, ConcurrentAcquireAndRelease) {
  constexpr int kPermits = 2;
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kBoundedSemaphore, kPermits);
  std::atomic<int> inside{0};
  std::atomic<int> too_many{0};
  struct {
    Mutex mu;
    std::vector<SessionId> granted ABSL_GUARDED_BY(mu);
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
        session = shared.granted.back();
        shared.granted.pop_back();
      }
      inside.fetch_sub(1);
      EXPECT_TRUE(IsOk(sem->Release(Caller{session})));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, session = SessionId(t + 1)] {
      for (int round = 0; round < kRounds; ++round) {
        // Shared with the completion, which may still be inside Notify when
        // this thread sees it and moves on.
        auto done = std::make_shared<Notification>();
        sem->Acquire(WaitRequest{Caller{session}, std::nullopt, [&, done](Outcome outcome) {
                                   EXPECT_TRUE(IsTrue(outcome));
                                   if (inside.fetch_add(1) >= kPermits) too_many.fetch_add(1);
                                   {
                                     MutexLock hold(&shared.mu);
                                     shared.granted.push_back(session);
                                   }
                                   done->Notify();
                                 }});
        done->WaitForNotification();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  releaser.join();

  EXPECT_EQ(too_many.load(), 0);
  EXPECT_EQ(sem->Value(), kPermits);
  EXPECT_EQ(sem->NWaiting(), 0);
}

TEST_F(SemaphoreObjectTest, HeldNamesThePermitsAndTheWaitersPerSession) {
  using ::testing::IsEmpty;
  using ::testing::Pair;
  using ::testing::UnorderedElementsAre;
  std::unique_ptr<SemaphoreObject> sem = Make(Kind::kSemaphore, 3, /*release_at_session_end=*/true);
  EXPECT_THAT(sem->Held().held, IsEmpty());
  EXPECT_THAT(sem->Held().waiting, IsEmpty());
  sem->Acquire(Forever(1, "a1"));
  sem->Acquire(Forever(1, "a2"));
  sem->Acquire(Forever(2, "b1"));
  sem->Acquire(Forever(2, "b2"));
  sem->Acquire(Forever(3, "c1"));
  sem->Acquire(Forever(2, "b3"));
  Holdings holdings = sem->Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(2u, 2), Pair(3u, 1)));

  ASSERT_TRUE(sem->Release(Caller{1}, 2).ok());  // b2 and c1 get a permit.
  holdings = sem->Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(2u, 2), Pair(3u, 1)));
  EXPECT_THAT(holdings.waiting, UnorderedElementsAre(Pair(2u, 1)));

  sem->EndSession(2);  // b3 is cancelled, and its two permits are given back.
  holdings = sem->Held();
  EXPECT_THAT(holdings.held, UnorderedElementsAre(Pair(3u, 1)));
  EXPECT_THAT(holdings.waiting, IsEmpty());
}

}  // namespace
}  // namespace shoal::server
