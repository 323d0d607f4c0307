// The synchronization kinds through the client library, against a real
// server: Python's semantics (PYTHON_MANAGER.md), several sessions, and what
// happens when a session ends. Where a second party must act, it is another
// Manager (another session) on another thread; the tests wait for the
// server to show a parked call (n_waiting, Describe) instead of sleeping.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/fixture.h"
#include "integration/waiting.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;

class SyncTest : public ServerTest {};

TEST_F(SyncTest, LockAcquireReleaseAndPythonErrors) {
  Manager a = Connect(), b = Connect();
  LockProxy lock = a.Lock();
  LockProxy other = b.attach<LockProxy>(lock.token());
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), RuntimeError);  // release unlocked lock
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(other.acquire(false));
  EXPECT_FALSE(other.acquire(true, 50ms));
  EXPECT_FALSE(lock.acquire(true, 0ms));  // not re-entrant, even for its holder
  EXPECT_THROW(other.release(), RuntimeError);  // held by another session
  lock.release();
  EXPECT_TRUE(other.try_lock());
  other.unlock();
  EXPECT_FALSE(lock.locked());
}

TEST_F(SyncTest, AnySessionMayReleaseIsAnExplicitOption) {
  Manager a = Connect(), b = Connect();
  LockProxy lock = a.Lock("", LockOptions{true});
  ASSERT_TRUE(lock.acquire());
  b.attach<LockProxy>(lock.token()).release();
  EXPECT_FALSE(lock.locked());
}

TEST_F(SyncTest, FencingTokensGrowWithEveryGrant) {
  Manager a = Connect(), b = Connect();
  LockProxy lock = a.Lock();
  LockProxy other = b.attach<LockProxy>(lock.token());
  EXPECT_EQ(lock.fencing_token(), 0);
  lock.lock();
  const int64_t first = lock.fencing_token();
  lock.unlock();
  other.lock();
  const int64_t second = other.fencing_token();
  other.unlock();
  lock.lock();
  EXPECT_GT(second, first);
  EXPECT_GT(lock.fencing_token(), second);
  lock.unlock();
}

TEST_F(SyncTest, LockWorksWithStandardGuards) {
  Manager a = Connect(), b = Connect();
  LockProxy lock = a.Lock();
  LockProxy other = b.attach<LockProxy>(lock.token());
  {
    std::lock_guard<LockProxy> hold(lock);
    EXPECT_TRUE(lock.locked());
    std::unique_lock<LockProxy> attempt(other, std::defer_lock);
    EXPECT_FALSE(attempt.try_lock_for(30ms));
    EXPECT_FALSE(attempt.owns_lock());
  }
  EXPECT_FALSE(lock.locked());
  std::unique_lock<LockProxy> held(other, std::defer_lock);
  EXPECT_TRUE(held.try_lock_until(std::chrono::steady_clock::now() + 1s));
  EXPECT_TRUE(lock.locked());
}

TEST_F(SyncTest, BlockedAcquireIsGrantedOnReleaseAndOtherCallsGoOn) {
  Manager a = Connect(), b = Connect();
  LockProxy lock = a.Lock();
  ListProxy list = b.list();
  ASSERT_TRUE(lock.acquire());
  LockProxy other = b.attach<LockProxy>(lock.token());
  std::thread waiter([&] { EXPECT_TRUE(other.acquire()); });
  EXPECT_TRUE(AwaitWaiting(a, lock, 1));
  // The same Manager's other calls are not held up by its parked acquire.
  list.append(1);
  EXPECT_EQ(list.len(), 1u);
  lock.release();
  waiter.join();
  EXPECT_TRUE(lock.locked());
  EXPECT_THROW(lock.release(), RuntimeError);
  other.release();
}

TEST_F(SyncTest, RLockCountsReentry) {
  Manager a = Connect(), b = Connect();
  RLockProxy rlock = a.RLock();
  RLockProxy other = b.attach<RLockProxy>(rlock.token());
  EXPECT_THROW(rlock.release(), RuntimeError);
  ASSERT_TRUE(rlock.acquire());
  ASSERT_TRUE(rlock.acquire());
  ASSERT_TRUE(rlock.acquire(false));
  EXPECT_FALSE(other.acquire(false));
  EXPECT_THROW(other.release(), RuntimeError);
  bool found = false;
  for (const ObjectInfo& info : a.objects()) {
    if (info.id != rlock.id()) continue;
    found = true;
    ASSERT_EQ(info.holders.size(), 1u);
    EXPECT_EQ(info.holders[0].count, 3);
    EXPECT_EQ(std::to_string(info.holders[0].session_id), a.session_id());
  }
  EXPECT_TRUE(found);
  rlock.release();
  rlock.release();
  EXPECT_FALSE(other.acquire(false));
  rlock.release();
  EXPECT_TRUE(other.acquire(false));
  other.release();
}

TEST_F(SyncTest, SemaphoreAndBoundedSemaphore) {
  Manager a = Connect();
  SemaphoreProxy sem = a.Semaphore(2);
  EXPECT_FALSE(sem.bounded());
  EXPECT_TRUE(sem.acquire());
  EXPECT_TRUE(sem.acquire());
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(true, 30ms));
  sem.release();
  sem.release();
  sem.release();  // above the initial value: allowed
  EXPECT_EQ(sem.value(), 3);
  sem.release(2);
  EXPECT_EQ(sem.value(), 5);

  SemaphoreProxy bounded = a.BoundedSemaphore(1);
  EXPECT_TRUE(bounded.bounded());
  EXPECT_THROW(bounded.release(), ValueError);
  EXPECT_TRUE(bounded.acquire());
  EXPECT_EQ(bounded.value(), 0);
  bounded.release();
  EXPECT_THROW(bounded.release(), ValueError);
  EXPECT_EQ(bounded.value(), 1);
  SemaphoreProxy attached = a.attach<SemaphoreProxy>(bounded.token());
  EXPECT_TRUE(attached.bounded());
}

// The message of the ValueError that acquire(false, timeout) throws.
std::string NonBlockingWithTimeoutError(AcquirerProxy& acquirer, Timeout timeout) {
  try {
    acquirer.acquire(false, timeout);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no ValueError";
}

TEST_F(SyncTest, NonBlockingAcquireWithATimeoutIsValueErrorAndTakesNothing) {
  // Python: Lock().acquire(False, 1), and the same for RLock and Condition,
  // raise ValueError("can't specify a timeout for a non-blocking call");
  // Semaphore and BoundedSemaphore ValueError("can't specify timeout for
  // non-blocking acquire"). A timeout of 0 is still a timeout.
  Manager a = Connect();
  const std::string lock_message = "can't specify a timeout for a non-blocking call";
  const std::string semaphore_message = "can't specify timeout for non-blocking acquire";

  LockProxy lock = a.Lock();
  EXPECT_EQ(NonBlockingWithTimeoutError(lock, 1s), lock_message);
  EXPECT_EQ(NonBlockingWithTimeoutError(lock, 0s), lock_message);
  EXPECT_FALSE(lock.locked());
  RLockProxy rlock = a.RLock();
  EXPECT_EQ(NonBlockingWithTimeoutError(rlock, 1s), lock_message);
  EXPECT_FALSE(rlock.locked());
  LockProxy under = a.Lock();
  ConditionProxy cond = a.Condition(under);
  EXPECT_EQ(NonBlockingWithTimeoutError(cond, 1s), lock_message);
  EXPECT_FALSE(under.locked());

  SemaphoreProxy sem = a.Semaphore(1);
  EXPECT_EQ(NonBlockingWithTimeoutError(sem, 1s), semaphore_message);
  EXPECT_EQ(sem.value(), 1);
  SemaphoreProxy bounded = a.BoundedSemaphore(1);
  EXPECT_EQ(NonBlockingWithTimeoutError(bounded, 0s), semaphore_message);
  EXPECT_EQ(bounded.value(), 1);

  // Without a timeout a non-blocking acquire goes on as before.
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(false));
  lock.release();
  EXPECT_TRUE(sem.acquire(false, std::nullopt));
  EXPECT_EQ(sem.value(), 0);
}

TEST_F(SyncTest, ConditionNotifyWakesWaitersWithTheLockHeld) {
  Manager a = Connect(), b = Connect(), c = Connect();
  ConditionProxy cond = a.Condition();
  EXPECT_THROW(cond.wait(10ms), RuntimeError);
  EXPECT_THROW(cond.notify(), RuntimeError);
  ListProxy woken = a.list();
  auto waiter = [&](Manager m) {
    ConditionProxy mine = m.attach<ConditionProxy>(cond.token());
    ListProxy out = m.attach<ListProxy>(woken.token());
    std::lock_guard<ConditionProxy> hold(mine);
    EXPECT_TRUE(mine.wait());
    out.append(m.session_id());
  };
  std::thread first(waiter, b), second(waiter, c);
  EXPECT_TRUE(AwaitWaiting(a, cond, 2));
  {
    std::lock_guard<ConditionProxy> hold(cond);
    cond.notify();
  }
  // One waiter wakes; the other still waits.
  for (int i = 0; i < 5000 && woken.len() < 1; ++i) std::this_thread::yield();
  EXPECT_EQ(woken.len(), 1u);
  EXPECT_TRUE(AwaitWaiting(a, cond, 1));
  {
    std::lock_guard<ConditionProxy> hold(cond);
    cond.notify_all();
  }
  first.join();
  second.join();
  EXPECT_EQ(woken.len(), 2u);
}

TEST_F(SyncTest, ConditionNotifyNAndTimeoutsAndWaitFor) {
  Manager a = Connect();
  RLockProxy rlock = a.RLock();
  ConditionProxy cond = a.Condition(rlock);
  std::lock_guard<ConditionProxy> hold(cond);
  EXPECT_TRUE(rlock.locked());
  EXPECT_FALSE(cond.wait(30ms));  // times out, and holds the lock again
  EXPECT_TRUE(rlock.locked());
  int calls = 0;
  EXPECT_FALSE(cond.wait_for([&] { return ++calls > 100; }, 30ms));
  EXPECT_GE(calls, 1);
  EXPECT_TRUE(cond.wait_for([] { return true; }, 0ms));

  std::vector<std::thread> waiters;
  std::atomic<int> woken{0};
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      Manager m = Connect();
      ConditionProxy mine = m.attach<ConditionProxy>(cond.token());
      std::lock_guard<ConditionProxy> inner(mine);
      if (mine.wait()) ++woken;
    });
  }
  cond.release();
  EXPECT_TRUE(AwaitWaiting(a, cond, 3));
  cond.acquire();
  cond.notify(2);
  cond.release();
  EXPECT_TRUE(AwaitWaiting(a, cond, 1));
  cond.acquire();
  cond.notify(5);
  cond.release();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woken.load(), 3);
  cond.acquire();  // for the guard
}

// Describe counts the calls waiting to acquire a Condition's lock, as it does
// for a Lock: those made through the Condition, and, over a given Lock, those
// made through the Lock itself.
TEST_F(SyncTest, DescribeOfAConditionCountsTheCallsWaitingForItsLock) {
  Manager a = Connect(), b = Connect(), c = Connect();
  LockProxy lock = a.Lock();
  ConditionProxy cond = a.Condition(lock);
  ASSERT_TRUE(cond.acquire());
  ConditionProxy through_condition = b.attach<ConditionProxy>(cond.token());
  LockProxy through_lock = c.attach<LockProxy>(lock.token());
  std::thread first([&] {
    EXPECT_TRUE(through_condition.acquire());
    through_condition.release();
  });
  EXPECT_TRUE(AwaitWaiting(a, cond, 1));
  std::thread second([&] {
    EXPECT_TRUE(through_lock.acquire());
    through_lock.release();
  });
  EXPECT_TRUE(AwaitWaiting(a, cond, 2));
  EXPECT_EQ(a.describe(lock.id()).waiting, 2);
  const ObjectInfo info = a.describe(cond.id());
  ASSERT_EQ(info.holders.size(), 1u);
  EXPECT_EQ(std::to_string(info.holders[0].session_id), a.session_id());
  cond.release();
  first.join();
  second.join();
  EXPECT_EQ(a.describe(cond.id()).waiting, 0);

  // Its own RLock, which no proxy names, shows only through the Condition.
  ConditionProxy own = a.Condition();
  ASSERT_TRUE(own.acquire());
  ConditionProxy other = b.attach<ConditionProxy>(own.token());
  std::thread third([&] {
    EXPECT_TRUE(other.acquire());
    other.release();
  });
  EXPECT_TRUE(AwaitWaiting(a, own, 1));
  own.release();
  third.join();
}

TEST_F(SyncTest, EventSetClearWait) {
  Manager a = Connect(), b = Connect();
  EventProxy event = a.Event();
  EXPECT_FALSE(event.is_set());
  EXPECT_FALSE(event.wait(20ms));
  EventProxy other = b.attach<EventProxy>(event.token());
  std::thread waiter([&] { EXPECT_TRUE(other.wait()); });
  EXPECT_TRUE(AwaitWaiting(a, event, 1));
  event.set();
  waiter.join();
  EXPECT_TRUE(event.wait());
  EXPECT_TRUE(other.is_set());
  event.clear();
  EXPECT_FALSE(event.is_set());
}

TEST_F(SyncTest, BarrierLockstepGivesEachIndexOncePerPass) {
  constexpr int kParties = 4, kPasses = 5;
  Manager a = Connect();
  BarrierProxy barrier = a.Barrier(kParties);
  EXPECT_EQ(barrier.parties(), kParties);
  std::mutex mu;
  std::vector<std::multiset<int64_t>> indexes(kPasses);
  std::vector<std::thread> parties;
  for (int p = 0; p < kParties; ++p) {
    parties.emplace_back([&] {
      Manager m = Connect();
      BarrierProxy mine = m.attach<BarrierProxy>(barrier.token());
      for (int pass = 0; pass < kPasses; ++pass) {
        const int64_t index = mine.wait();
        std::lock_guard<std::mutex> lock(mu);
        indexes[pass].insert(index);
      }
    });
  }
  for (auto& t : parties) t.join();
  for (int pass = 0; pass < kPasses; ++pass) {
    EXPECT_EQ(indexes[pass], (std::multiset<int64_t>{0, 1, 2, 3})) << "pass " << pass;
  }
  EXPECT_EQ(barrier.n_waiting(), 0);
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(a.Barrier(1).wait(), 0);  // Barrier(1) never waits
}

TEST_F(SyncTest, BarrierAbortResetAndTimeoutBreakIt) {
  Manager a = Connect(), b = Connect();
  BarrierProxy barrier = a.Barrier(2);
  BarrierProxy other = b.attach<BarrierProxy>(barrier.token());
  // A timeout breaks the barrier; it stays broken until reset.
  EXPECT_THROW(barrier.wait(30ms), BrokenBarrierError);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(other.wait(), BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  // abort() while a party waits.
  std::thread waiter([&] { EXPECT_THROW(other.wait(), BrokenBarrierError); });
  EXPECT_TRUE(AwaitWaiting(a, barrier, 1));
  barrier.abort();
  waiter.join();
  barrier.reset();
  // reset() while a party waits.
  std::thread reset_waiter([&] { EXPECT_THROW(other.wait(), BrokenBarrierError); });
  EXPECT_TRUE(AwaitWaiting(a, barrier, 1));
  barrier.reset();
  reset_waiter.join();
  // The barrier's own timeout applies to a wait without one.
  BarrierProxy timed = a.Barrier(2, 30ms);
  EXPECT_THROW(timed.wait(), BrokenBarrierError);
}

TEST_F(SyncTest, QueuePutGetMatrixWithMaxsize) {
  Manager a = Connect();
  QueueProxy q = a.Queue(2);
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_THROW(q.get(false), Empty);
  EXPECT_THROW(q.get(true, 30ms), Empty);
  q.put(1);
  q.put_nowait("two");
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2);
  EXPECT_THROW(q.put_nowait(3), Full);
  EXPECT_THROW(q.put(3, false), Full);
  EXPECT_THROW(q.put(3, true, 30ms), Full);
  EXPECT_EQ(q.get().as_int(), 1);
  EXPECT_EQ(q.get_nowait().as_str(), "two");
  EXPECT_TRUE(q.empty());
  // A blocked put goes in once a get makes room.
  q.put(10);
  q.put(11);
  Manager b = Connect();
  QueueProxy other = b.attach<QueueProxy>(q.token());
  std::thread putter([&] { other.put(12); });
  EXPECT_TRUE(AwaitWaiting(a, q, 1));
  EXPECT_EQ(q.get().as_int(), 10);
  putter.join();
  EXPECT_EQ(q.get().as_int(), 11);
  EXPECT_EQ(q.get().as_int(), 12);
}

TEST_F(SyncTest, QueueIsFifoAcrossSessionsAndHandsToParkedGetters) {
  Manager a = Connect(), b = Connect();
  QueueProxy q = a.Queue();
  QueueProxy other = b.attach<QueueProxy>(q.token());
  Value got;
  std::thread getter([&] { got = other.get(); });
  EXPECT_TRUE(AwaitWaiting(a, q, 1));
  q.put("first");
  getter.join();
  EXPECT_EQ(got.as_str(), "first");
  for (int i = 0; i < 50; ++i) (i % 2 ? q : other).put(i);
  for (int i = 0; i < 50; ++i) EXPECT_EQ((i % 3 ? q : other).get().as_int(), i);
}

TEST_F(SyncTest, ProxiesTravelThroughQueuesAndQueuesLiveInDicts) {
  Manager a = Connect(), b = Connect();
  QueueProxy q = a.Queue();
  ListProxy list = a.list();
  list.append("payload");
  q.put(list);
  DictProxy dict = a.dict();
  dict.set("jobs", q);

  DictProxy seen = b.attach<DictProxy>(dict.token());
  QueueProxy jobs(seen.get("jobs"));
  EXPECT_EQ(jobs.id(), q.id());
  ListProxy received(jobs.get());
  EXPECT_EQ(received.id(), list.id());
  received.append("from b");
  EXPECT_EQ(list.len(), 2u);
}

TEST_F(SyncTest, JoinableQueueTaskDoneAndJoin) {
  Manager a = Connect(), b = Connect();
  QueueProxy q = a.JoinableQueue();
  EXPECT_THROW(q.task_done(), ValueError);
  EXPECT_TRUE(q.join(0ms));  // nothing unfinished
  q.put(1);
  q.put(2);
  EXPECT_FALSE(q.join(20ms));
  QueueProxy other = b.attach<QueueProxy>(q.token());
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    other.join();
    joined = true;
  });
  EXPECT_TRUE(AwaitWaiting(a, q, 1));
  q.get();
  q.task_done();
  q.get();
  EXPECT_FALSE(joined.load());
  q.task_done();
  joiner.join();
  EXPECT_TRUE(joined.load());
  EXPECT_THROW(q.task_done(), ValueError);
}

// Python 3.13's Queue.shutdown: puts fail at once, gets take what is left and
// then fail, calls waiting in other sessions fail at once.
TEST_F(SyncTest, QueueShutdownAsPython313) {
  Manager a = Connect(), b = Connect(), c = Connect();
  QueueProxy q = a.Queue(1);
  EXPECT_FALSE(q.is_shutdown());
  q.put("left");
  QueueProxy putter = b.attach<QueueProxy>(q.token());
  std::thread blocked_put([&] { EXPECT_THROW(putter.put("blocked"), ShutDown); });
  QueueProxy empty = a.JoinableQueue();
  QueueProxy getter = c.attach<QueueProxy>(empty.token());
  std::thread blocked_get([&] { EXPECT_THROW(getter.get(), ShutDown); });
  EXPECT_TRUE(AwaitWaiting(a, q, 1));
  EXPECT_TRUE(AwaitWaiting(a, empty, 1));
  q.shutdown();
  empty.shutdown();
  blocked_put.join();
  blocked_get.join();
  EXPECT_TRUE(putter.is_shutdown());
  EXPECT_EQ(a.describe(q.id()).repr, "<Queue 1 items, maxsize=1, shutdown>");
  // A put fails before the queue is found full; the item waiting was not added.
  EXPECT_THROW(q.put_nowait("late"), ShutDown);
  EXPECT_THROW(q.put("late", true, 10ms), ShutDown);
  EXPECT_EQ(q.qsize(), 1);
  EXPECT_EQ(q.get().as_str(), "left");
  // Empty and shut down: every get fails with ShutDown, not Empty.
  EXPECT_THROW(q.get(), ShutDown);
  EXPECT_THROW(q.get_nowait(), ShutDown);
  EXPECT_THROW(q.get(true, 10ms), ShutDown);
  q.shutdown();  // again: allowed
  EXPECT_TRUE(q.is_shutdown());
}

// shutdown(immediate=true) drops what is left and counts it done, so a join
// waiting for it alone returns; an item taken still has to be marked done.
TEST_F(SyncTest, ImmediateQueueShutdownDropsTheRestAndReleasesJoin) {
  Manager a = Connect(), b = Connect();
  QueueProxy q = a.JoinableQueue();
  for (int i = 0; i < 5; ++i) q.put(i);
  EXPECT_EQ(q.get().as_int(), 0);
  QueueProxy other = b.attach<QueueProxy>(q.token());
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    other.join();
    joined = true;
  });
  EXPECT_TRUE(AwaitWaiting(a, q, 1));
  q.shutdown(/*immediate=*/true);
  EXPECT_EQ(q.qsize(), 0);
  EXPECT_THROW(q.get_nowait(), ShutDown);
  EXPECT_FALSE(joined.load());
  EXPECT_EQ(a.describe(q.id()).waiting, 1);  // still joining: item 0 is not done
  q.task_done();
  joiner.join();
  EXPECT_TRUE(joined.load());
  EXPECT_THROW(q.task_done(), ValueError);
  EXPECT_TRUE(q.join(0ms));
}

TEST_F(SyncTest, EndedSessionGivesItsLockToTheWaiterAndListsHoldings) {
  Manager a = Connect(), b = Connect();
  LockProxy lock = a.Lock();
  SemaphoreProxy sem = a.Semaphore(1, "", SemaphoreOptions{true});
  ASSERT_TRUE(lock.acquire());
  ASSERT_TRUE(sem.acquire());
  bool listed = false;
  for (const SessionInfo& session : b.sessions()) {
    if (std::to_string(session.id) != a.session_id()) continue;
    listed = true;
    EXPECT_EQ(session.streams, 1);
    ASSERT_EQ(session.holdings.size(), 2u);
    EXPECT_EQ(session.holdings[0].object_id, lock.id());
    EXPECT_EQ(session.holdings[0].count, 1);
    EXPECT_EQ(session.holdings[1].object_id, sem.id());
  }
  EXPECT_TRUE(listed);

  LockProxy other = b.attach<LockProxy>(lock.token());
  SemaphoreProxy other_sem = b.attach<SemaphoreProxy>(sem.token());
  std::thread waiter([&] { EXPECT_TRUE(other.acquire()); });
  EXPECT_TRUE(AwaitWaiting(b, other, 1));
  const int64_t old_token = lock.fencing_token();
  a.close();
  waiter.join();
  EXPECT_GT(other.fencing_token(), old_token);
  EXPECT_TRUE(other_sem.acquire(false));  // the permit came back
  other.release();
}

// What a closed session's permits do is chosen at creation, for each kind;
// the defaults are Python's for a Semaphore (they stay taken) and a pool's
// for a BoundedSemaphore (they come back).
TEST_F(SyncTest, SemaphorePermitsOfAClosedSessionComeBackOnlyWhenAsked) {
  struct Case {
    bool bounded;
    std::optional<bool> release_at_session_end;
    bool comes_back;
  };
  for (const Case& c : {Case{false, std::nullopt, false}, Case{false, true, true},
                        Case{true, std::nullopt, true}, Case{true, false, false}}) {
    SCOPED_TRACE(
        std::string(c.bounded ? "BoundedSemaphore" : "Semaphore") + " asked " +
        (c.release_at_session_end ? (*c.release_at_session_end ? "true" : "false") : "nothing"));
    Manager a = Connect(), b = Connect();
    SemaphoreOptions options;
    options.release_at_session_end = c.release_at_session_end;
    SemaphoreProxy sem =
        c.bounded ? b.BoundedSemaphore(1, "", options) : b.Semaphore(1, "", options);
    SemaphoreProxy holder = a.attach<SemaphoreProxy>(sem.token());
    ASSERT_TRUE(holder.acquire());
    ASSERT_EQ(b.describe(sem.id()).holders.size(), 1u);
    a.close();
    // Gone from the holders: the server has ended a's session at the semaphore.
    EXPECT_TRUE(AwaitWaiting(
        "holders", 0, [&] { return static_cast<int64_t>(b.describe(sem.id()).holders.size()); }));
    EXPECT_EQ(sem.value(), c.comes_back ? 1 : 0);
    EXPECT_EQ(sem.acquire(false), c.comes_back);
  }
}

}  // namespace
}  // namespace shoal::testing
