// Runs the same tests on the locks this build uses (shoal::Mutex and its
// companions: Abseil's, or std_sync's under ThreadSanitizer) and on std_sync
// explicitly, so that std_sync keeps Abseil's semantics in every build.
#include "shared/mutex.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace shoal {
// Named, not anonymous, so that the test names ctest shows stay short.
namespace mutex_test {

struct BuildLocks {
  using Mutex = shoal::Mutex;
  using MutexLock = shoal::MutexLock;
  using ReaderMutexLock = shoal::ReaderMutexLock;
  using Condition = shoal::Condition;
  using Notification = shoal::Notification;
};

struct StdSyncLocks {
  using Mutex = std_sync::Mutex;
  using MutexLock = std_sync::MutexLock;
  using ReaderMutexLock = std_sync::ReaderMutexLock;
  using Condition = std_sync::Condition;
  using Notification = std_sync::Notification;
};

}  // namespace mutex_test

namespace {

using mutex_test::BuildLocks;
using mutex_test::StdSyncLocks;

template <typename Locks>
class MutexTest : public ::testing::Test {
 protected:
  using Mutex = typename Locks::Mutex;
  using MutexLock = typename Locks::MutexLock;
  using ReaderMutexLock = typename Locks::ReaderMutexLock;
  using Condition = typename Locks::Condition;
  using Notification = typename Locks::Notification;

  // State for the tests, guarded the way shoal's classes guard theirs.
  struct Shared {
    Mutex mu;
    int value ABSL_GUARDED_BY(mu) = 0;
    bool flag ABSL_GUARDED_BY(mu) = false;
    // Who moved, turn by turn.
    std::vector<int> turns ABSL_GUARDED_BY(mu);

    bool Positive() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return value > 0; }
    bool Flagged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return flag; }
  };
};

using LockSets = ::testing::Types<BuildLocks, StdSyncLocks>;
TYPED_TEST_SUITE(MutexTest, LockSets);

TYPED_TEST(MutexTest, MutexLockExcludes) {
  typename TestFixture::Shared shared;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&shared] {
      for (int i = 0; i < 1000; ++i) {
        typename TestFixture::MutexLock lock(&shared.mu);
        ++shared.value;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  typename TestFixture::MutexLock lock(&shared.mu);
  shared.mu.AssertHeld();
  EXPECT_EQ(shared.value, 4000);
}

TYPED_TEST(MutexTest, ReadersShareTheMutex) {
  typename TestFixture::Shared shared;
  std::atomic<int> inside{0};
  // Each reader stays in until both are in: this finishes only if two
  // readers can hold the mutex at once.
  auto reader = [&shared, &inside] {
    typename TestFixture::ReaderMutexLock lock(&shared.mu);
    shared.mu.AssertReaderHeld();
    ++inside;
    while (inside.load() < 2) std::this_thread::yield();
    EXPECT_EQ(shared.value, 0);
  };
  std::thread a(reader);
  std::thread b(reader);
  a.join();
  b.join();
}

TYPED_TEST(MutexTest, AwaitReturnsOnceAnotherThreadMakesTheConditionTrue) {
  typename TestFixture::Shared shared;
  std::atomic<bool> awaiting{false};
  // Await evaluates the condition with the mutex held and releases it only to
  // wait, so the setter, which waits for the first evaluation and then takes
  // the mutex, changes value while the main thread waits in Await.
  auto positive = [&shared, &awaiting]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
    awaiting.store(true);
    return shared.value > 0;
  };
  std::thread setter([&shared, &awaiting] {
    while (!awaiting.load()) std::this_thread::yield();
    typename TestFixture::MutexLock lock(&shared.mu);
    shared.value = 1;
  });
  {
    typename TestFixture::MutexLock lock(&shared.mu);
    shared.mu.Await(typename TestFixture::Condition(&positive));
    EXPECT_EQ(shared.value, 1);
    shared.mu.AssertHeld();
  }
  setter.join();
}

TYPED_TEST(MutexTest, AwaitUnderAReaderLock) {
  typename TestFixture::Shared shared;
  std::atomic<bool> awaiting{false};
  // As above: the writer comes once the reader waits in Await.
  auto flagged = [&shared, &awaiting]() ABSL_SHARED_LOCKS_REQUIRED(shared.mu) {
    awaiting.store(true);
    return shared.flag;
  };
  std::thread setter([&shared, &awaiting] {
    while (!awaiting.load()) std::this_thread::yield();
    typename TestFixture::MutexLock lock(&shared.mu);
    shared.flag = true;
  });
  {
    typename TestFixture::ReaderMutexLock lock(&shared.mu);
    shared.mu.Await(typename TestFixture::Condition(&flagged));
    EXPECT_TRUE(shared.flag);
  }
  setter.join();
}

TYPED_TEST(MutexTest, ReleaseInAwaitWakesOtherWaiters) {
  // Two threads take turns through value, each setting it for the other and
  // then awaiting its own turn: no one signals, so this finishes only if the
  // release inside Await wakes the other waiter as any release does. Each
  // turn is recorded, so the turns are seen to alternate.
  constexpr int kRounds = 100;
  typename TestFixture::Shared shared;
  auto player = [&shared](int me, int other) {
    typename TestFixture::MutexLock lock(&shared.mu);
    for (int round = 0; round < kRounds; ++round) {
      auto my_turn = [&shared, me]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) { return shared.value == me; };
      shared.mu.Await(typename TestFixture::Condition(&my_turn));
      shared.turns.push_back(me);
      shared.value = other;
    }
  };
  {
    typename TestFixture::MutexLock lock(&shared.mu);
    shared.value = 1;
  }
  std::thread one(player, 1, 2);
  std::thread two(player, 2, 1);
  one.join();
  two.join();
  typename TestFixture::MutexLock lock(&shared.mu);
  ASSERT_EQ(shared.turns.size(), 2u * kRounds);
  for (size_t i = 0; i < shared.turns.size(); ++i) {
    EXPECT_EQ(shared.turns[i], i % 2 == 0 ? 1 : 2) << "turn " << i;
  }
  // The last turn, player 2's, handed value back to player 1.
  EXPECT_EQ(shared.value, 1);
}

TYPED_TEST(MutexTest, AwaitWithTimeoutSaysWhetherTheConditionHeld) {
  typename TestFixture::Shared shared;
  typename TestFixture::MutexLock lock(&shared.mu);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(shared.mu.AwaitWithTimeout(
      typename TestFixture::Condition(&shared, &TestFixture::Shared::Flagged),
      absl::Milliseconds(30)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(25));
  EXPECT_FALSE(
      shared.mu.AwaitWithTimeout(typename TestFixture::Condition(&shared.flag), -absl::Seconds(1)));
  shared.flag = true;
  EXPECT_TRUE(shared.mu.AwaitWithTimeout(typename TestFixture::Condition(&shared.flag),
                                         absl::ZeroDuration()));
  EXPECT_TRUE(shared.mu.AwaitWithTimeout(typename TestFixture::Condition(&shared.flag),
                                         absl::InfiniteDuration()));
}

TYPED_TEST(MutexTest, AwaitWithTimeoutReturnsEarlyWhenTheConditionComesTrue) {
  typename TestFixture::Shared shared;
  std::atomic<bool> awaiting{false};
  // As in AwaitReturnsOnceAnotherThreadMakesTheConditionTrue: the setter sets
  // the flag while the main thread waits.
  auto flagged = [&shared, &awaiting]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
    awaiting.store(true);
    return shared.flag;
  };
  std::thread setter([&shared, &awaiting] {
    while (!awaiting.load()) std::this_thread::yield();
    typename TestFixture::MutexLock lock(&shared.mu);
    shared.flag = true;
  });
  {
    typename TestFixture::MutexLock lock(&shared.mu);
    const absl::Time start = absl::Now();
    EXPECT_TRUE(shared.mu.AwaitWithTimeout(typename TestFixture::Condition(&flagged),
                                           absl::Seconds(60)));
    EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  }
  setter.join();
}

TYPED_TEST(MutexTest, NotificationWakesEveryWaiter) {
  typename TestFixture::Notification done;
  EXPECT_FALSE(done.HasBeenNotified());
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(10)));
  int written = 0;
  std::vector<std::thread> waiters;
  for (int t = 0; t < 3; ++t) {
    waiters.emplace_back([&done, &written] {
      done.WaitForNotification();
      // Notify orders the write before it with every return from a wait.
      EXPECT_EQ(written, 7);
    });
  }
  written = 7;
  done.Notify();
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_TRUE(done.HasBeenNotified());
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::ZeroDuration()));
}

}  // namespace
}  // namespace shoal
