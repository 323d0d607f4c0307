#include "server/core/timer_queue.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "shared/mutex.h"

// Each test declares its TimerQueue after everything its callbacks touch, so
// that the queue's destructor, which joins the timer thread, runs first.

namespace shoal::server {
namespace {

// A generous bound on waits that must end promptly, so that a broken queue
// fails the test instead of hanging it. Nothing waits for it to pass.
constexpr absl::Duration kPatience = absl::Seconds(30);

// The order in which callbacks ran.
class Trace {
 public:
  void Add(int what) {
    MutexLock lock(&mu_);
    seen_.push_back(what);
  }
  std::vector<int> seen() {
    MutexLock lock(&mu_);
    return seen_;
  }

 private:
  Mutex mu_;
  std::vector<int> seen_ ABSL_GUARDED_BY(mu_);
};

// Occupies the timer thread with a callback that waits until the gate goes
// out of scope, so that a test can line up timers that are all due before any
// of them runs. The callback shares the notifications, which may thus outlive
// the gate.
class Gate {
 public:
  explicit Gate(TimerQueue& queue) : state_(std::make_shared<State>()) {
    queue.Schedule(absl::Now(), [state = state_] {
      state->entered.Notify();
      state->open.WaitForNotification();
    });
    EXPECT_TRUE(state_->entered.WaitForNotificationWithTimeout(kPatience));
  }
  ~Gate() { state_->open.Notify(); }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

 private:
  struct State {
    Notification entered;
    Notification open;
  };
  std::shared_ptr<State> state_;
};

TEST(TimerQueue, RunsDueTimersInDeadlineOrder) {
  Trace trace;
  Notification last;
  TimerQueue queue;
  const absl::Time now = absl::Now();
  {
    Gate gate(queue);
    queue.Schedule(now - absl::Seconds(1), [&] { trace.Add(3); });
    queue.Schedule(now - absl::Seconds(3), [&] { trace.Add(1); });
    queue.Schedule(now - absl::Seconds(2), [&] { trace.Add(2); });
    // Equal deadlines run in the order they were scheduled.
    queue.Schedule(now, [&] { trace.Add(4); });
    queue.Schedule(now, [&] {
      trace.Add(5);
      last.Notify();
    });
    EXPECT_EQ(queue.pending(), 5u);
  }
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(kPatience));
  EXPECT_EQ(trace.seen(), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(queue.pending(), 0u);
}

TEST(TimerQueue, RunsATimerNoSoonerThanItsDeadline) {
  const absl::Time when = absl::Now() + absl::Milliseconds(20);
  absl::Time ran;
  Notification done;
  TimerQueue queue;
  queue.Schedule(when, [&] {
    ran = absl::Now();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kPatience));
  EXPECT_GE(ran, when);
}

TEST(TimerQueue, AnEarlierTimerScheduledLaterWakesTheThread) {
  Notification late;
  Notification early;
  TimerQueue queue;
  queue.Schedule(absl::Now() + absl::Hours(1), [&] { late.Notify(); });
  queue.Schedule(absl::Now(), [&] { early.Notify(); });
  EXPECT_TRUE(early.WaitForNotificationWithTimeout(kPatience));
  EXPECT_FALSE(late.HasBeenNotified());
  EXPECT_EQ(queue.pending(), 1u);
}

TEST(TimerQueue, CancelBeforeFiringDropsTheTimer) {
  Trace trace;
  Notification after;
  TimerQueue queue;
  {
    Gate gate(queue);
    const Timers::TimerId dropped = queue.Schedule(absl::Now(), [&] { trace.Add(1); });
    queue.Schedule(absl::Now(), [&] {
      trace.Add(2);
      after.Notify();
    });
    queue.Cancel(dropped);
    queue.Cancel(dropped);  // Twice is harmless.
    EXPECT_EQ(queue.pending(), 1u);
  }
  ASSERT_TRUE(after.WaitForNotificationWithTimeout(kPatience));
  EXPECT_EQ(trace.seen(), (std::vector<int>{2}));
  queue.Cancel(12345);  // Never scheduled: a no-op.
}

TEST(TimerQueue, CancelDestroysTheDroppedCallback) {
  TimerQueue queue;
  auto captured = std::make_shared<int>(7);
  std::weak_ptr<int> watch = captured;
  const Timers::TimerId id =
      queue.Schedule(absl::Now() + absl::Hours(1), [captured] { (void)*captured; });
  captured.reset();
  EXPECT_FALSE(watch.expired());
  queue.Cancel(id);
  EXPECT_TRUE(watch.expired());
}

TEST(TimerQueue, ACallbackMayCancelOtherTimersAndItself) {
  Trace trace;
  Notification after;
  Timers::TimerId self = 0;
  Timers::TimerId other = 0;
  TimerQueue queue;
  {
    Gate gate(queue);
    // The gate holds the thread, so self and other are set before this runs.
    self = queue.Schedule(absl::Now(), [&] {
      trace.Add(1);
      queue.Cancel(other);
      queue.Cancel(self);  // Running now, on the timer thread: must not wait.
    });
    other = queue.Schedule(absl::Now() + absl::Milliseconds(1), [&] { trace.Add(2); });
    queue.Schedule(absl::Now() + absl::Milliseconds(2), [&] {
      trace.Add(3);
      after.Notify();
    });
  }
  ASSERT_TRUE(after.WaitForNotificationWithTimeout(kPatience));
  EXPECT_EQ(trace.seen(), (std::vector<int>{1, 3}));
}

TEST(TimerQueue, ACallbackMayScheduleTimers) {
  Notification inner;
  TimerQueue queue;
  queue.Schedule(absl::Now(), [&] { queue.Schedule(absl::Now(), [&] { inner.Notify(); }); });
  EXPECT_TRUE(inner.WaitForNotificationWithTimeout(kPatience));
}

TEST(TimerQueue, CancelWaitsForARunningCallbackToReturn) {
  Notification started;
  Notification proceed;
  Notification cancelling;
  std::atomic<bool> finished{false};
  TimerQueue queue;
  auto captured = std::make_shared<int>(1);
  std::weak_ptr<int> watch = captured;
  const Timers::TimerId id = queue.Schedule(absl::Now(), [&, captured] {
    started.Notify();
    proceed.WaitForNotification();
    finished.store(true);
  });
  captured.reset();
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kPatience));

  std::thread canceller([&] {
    cancelling.Notify();
    queue.Cancel(id);
    // Whenever Cancel got in, it returned only after the callback, and what
    // it captured, were gone.
    EXPECT_TRUE(finished.load());
    EXPECT_TRUE(watch.expired());
  });
  ASSERT_TRUE(cancelling.WaitForNotificationWithTimeout(kPatience));
  proceed.Notify();
  canceller.join();
}

TEST(TimerQueue, DestructionDropsPendingTimers) {
  auto captured = std::make_shared<int>(1);
  std::weak_ptr<int> watch = captured;
  std::atomic<bool> ran{false};
  {
    TimerQueue queue;
    queue.Schedule(absl::Now() + absl::Hours(1), [captured, &ran] { ran.store(true); });
    captured.reset();
  }
  EXPECT_FALSE(ran.load());
  EXPECT_TRUE(watch.expired());
}

TEST(TimerQueue, NowIsTheWallClock) {
  TimerQueue queue;
  const absl::Time before = absl::Now();
  const absl::Time now = queue.Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

}  // namespace
}  // namespace shoal::server
