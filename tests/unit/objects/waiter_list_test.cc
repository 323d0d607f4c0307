#include "server/objects/waiter_list.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/objects/memory_budget.h"
#include "server/objects/parking_limits.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"
#include "tests/unit/objects/manual_timers.h"
#include "tests/unit/objects/recorder.h"

namespace shoal::server {
namespace {

using ::shoal::server::testing::ManualTimers;
using ::shoal::server::testing::Recorder;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using Names = std::vector<std::string>;

// Whether the calling thread holds an Owner's mutex.
thread_local bool holds_owner_mutex = false;

// ManualTimers that also log each Cancel, and check that none is called
// while the owner's mutex is held (Timers::Cancel may wait out a callback
// that takes it).
class SpyTimers : public Timers {
 public:
  absl::Time Now() override { return clock_.Now(); }
  TimerId Schedule(absl::Time when, std::function<void()> fn) override {
    return clock_.Schedule(when, std::move(fn));
  }
  void Cancel(TimerId id) override {
    EXPECT_FALSE(holds_owner_mutex) << "timer " << id << " cancelled under the mutex";
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_.push_back(id);
    }
    clock_.Cancel(id);
  }

  void Advance(absl::Duration d) { clock_.Advance(d); }
  size_t pending() { return clock_.pending(); }
  std::vector<TimerId> cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

 private:
  ManualTimers clock_;
  std::mutex mu_;
  std::vector<TimerId> cancelled_;
};

// A minimal owner, as an object uses its list: one mutex guards the list,
// every completion goes through a Settlement declared before the lock, and
// the deadline handler takes the mutex and completes the waiter with False.
class Owner {
 public:
  // Waiters park under parking's limits, when given.
  explicit Owner(Timers* timers, WaitIdTag tag = 0, ParkingLimits* parking = nullptr)
      : timers_(timers),
        parking_(parking),
        waiters_(timers, tag, [this](WaitId id) { Expire(id); }) {}
  ~Owner() {
    Settlement settle(timers_);
    Locked hold(*this);
    waiters_.CompleteAll(Outcome::Error(absl::CancelledError("the owner was destroyed")), settle);
  }

  WaitId Park(SessionId session, std::optional<absl::Time> deadline, Completion done,
              int payload = 0) {
    Settlement settle(timers_);
    Locked hold(*this);
    return waiters_.Park(Caller{session, parking_}, deadline, std::move(done), settle, payload);
  }
  bool Complete(WaitId id, Outcome outcome) {
    Settlement settle(timers_);
    Locked hold(*this);
    return waiters_.Complete(id, std::move(outcome), settle);
  }
  bool CompleteOldest(Outcome outcome) {
    Settlement settle(timers_);
    Locked hold(*this);
    return waiters_.CompleteOldest(std::move(outcome), settle);
  }
  int64_t EndSession(SessionId session) {
    Settlement settle(timers_);
    Locked hold(*this);
    return waiters_.CompleteSession(session, SessionEnded(), settle);
  }
  // Completes the oldest waiter with its payload plus delta, having changed
  // the payload first, as a Queue moves a putter's item before completing.
  bool CompleteOldestWithPayload(int delta) {
    Settlement settle(timers_);
    Locked hold(*this);
    auto* oldest = waiters_.Oldest();
    if (oldest == nullptr) return false;
    oldest->payload += delta;
    return waiters_.CompleteOldest(Outcome::Ok(Value(oldest->payload)), settle);
  }

  int64_t size() {
    Locked hold(*this);
    return waiters_.size();
  }
  std::vector<WaitId> Ids() {
    Locked hold(*this);
    std::vector<WaitId> ids;
    waiters_.ForEach([&ids](const auto& waiter) { ids.push_back(waiter.id); });
    return ids;
  }
  std::optional<SessionId> SessionOf(WaitId id) {
    Locked hold(*this);
    const auto* waiter = waiters_.Find(id);
    if (waiter == nullptr) return std::nullopt;
    return waiter->session;
  }
  std::vector<std::pair<SessionId, int64_t>> Waiting() {
    Locked hold(*this);
    SessionCounts counts;
    waiters_.CountSessions(counts);
    return CountPairs(counts);
  }

 private:
  // Holds mu_, and says so in holds_owner_mutex.
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(Owner& owner) ABSL_EXCLUSIVE_LOCK_FUNCTION(owner.mu_) : owner_(owner) {
      owner_.mu_.Lock();
      holds_owner_mutex = true;
    }
    ~Locked() ABSL_UNLOCK_FUNCTION() {
      holds_owner_mutex = false;
      owner_.mu_.Unlock();
    }

   private:
    Owner& owner_;
  };

  void Expire(WaitId id) {
    Settlement settle(timers_);
    Locked hold(*this);
    waiters_.CompleteExpired(id, Outcome::Ok(false), settle);
  }

  Timers* const timers_;
  ParkingLimits* const parking_;
  Mutex mu_;
  WaiterList<int> waiters_ ABSL_GUARDED_BY(mu_);
};

class WaiterListTest : public ::testing::Test {
 protected:
  // A completion recorded under name, which also checks that it runs with
  // the owner's mutex released.
  Completion Track(std::string name) {
    return [done = recorder_.Track(name), name](Outcome outcome) mutable {
      EXPECT_FALSE(holds_owner_mutex) << name << " completed under the owner's mutex";
      std::move(done)(std::move(outcome));
    };
  }
  absl::Time In(absl::Duration d) { return timers_.Now() + d; }

  SpyTimers timers_;
  Recorder recorder_;
  std::unique_ptr<Owner> owner_ = std::make_unique<Owner>(&timers_);
};

bool IsFalse(const Outcome& outcome) {
  return outcome.status.ok() && outcome.value == Value(false);
}
bool IsCancelled(const Outcome& outcome) {
  return outcome.status.code() == absl::StatusCode::kCancelled;
}

TEST_F(WaiterListTest, IdsAreNeverZeroAndFollowArrivalOrder) {
  const WaitId a = owner_->Park(1, std::nullopt, Track("a"));
  const WaitId b = owner_->Park(2, std::nullopt, Track("b"));
  const WaitId c = owner_->Park(1, std::nullopt, Track("c"));
  EXPECT_NE(a, 0u);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_THAT(owner_->Ids(), ElementsAre(a, b, c));
  EXPECT_EQ(owner_->size(), 3);
  EXPECT_EQ(owner_->SessionOf(b), SessionId{2});
  EXPECT_THAT(owner_->Waiting(), UnorderedElementsAre(Pair(1u, 2), Pair(2u, 1)));
  EXPECT_TRUE(recorder_.log().empty());

  // The oldest goes first, whoever parked after it.
  EXPECT_TRUE(owner_->CompleteOldest(Outcome::Ok(1)));
  EXPECT_TRUE(owner_->CompleteOldest(Outcome::Ok(2)));
  EXPECT_TRUE(owner_->CompleteOldest(Outcome::Ok(3)));
  EXPECT_FALSE(owner_->CompleteOldest(Outcome::Ok(4)));
  EXPECT_EQ(recorder_.names(), (Names{"a", "b", "c"}));
  EXPECT_EQ(recorder_.Of("c").value, Value(3));
}

TEST_F(WaiterListTest, IdsCarryTheListsTag) {
  Owner tagged(&timers_, 3);
  const WaitId id = tagged.Park(1, std::nullopt, Track("t"));
  EXPECT_TRUE(HasWaitIdTag(id, 3));
  EXPECT_FALSE(HasWaitIdTag(id, 0));
  const WaitId untagged = owner_->Park(1, std::nullopt, Track("u"));
  EXPECT_TRUE(HasWaitIdTag(untagged, 0));
  EXPECT_NE(id, untagged);
  // An id of another list is not this one's.
  EXPECT_FALSE(owner_->Complete(id, Outcome::Ok(true)));
}

// Every way out of the list gives the waiter's charge back, once: the
// session's count and the memory budget return to zero.
TEST_F(WaiterListTest, TheParkingChargeIsGivenBackOnceWhicheverWayTheWaiterLeaves) {
  MemoryBudget budget(0);
  ParkingLimits parking(&budget, 3);
  auto owner = std::make_unique<Owner>(&timers_, 0, &parking);
  const WaitId by_id = owner->Park(1, std::nullopt, Track("by id"));
  owner->Park(1, In(absl::Seconds(1)), Track("deadline"));
  owner->Park(1, std::nullopt, Track("oldest"));
  EXPECT_EQ(parking.parked(1), 3);
  EXPECT_EQ(budget.used(), 3 * kParkedCallBytes);

  // The cap: a fourth of session 1 is refused at once, parking nothing and
  // charging nothing; another session still parks.
  EXPECT_EQ(owner->Park(1, std::nullopt, Track("refused")), 0u);
  const Outcome refused = recorder_.Of("refused");
  EXPECT_EQ(ErrorKindOf(refused.status), ErrorKind::kLimitError);
  EXPECT_THAT(std::string(refused.status.message()),
              ::testing::HasSubstr("--max-parked-per-session (3)"));
  EXPECT_EQ(owner->size(), 3);
  EXPECT_EQ(parking.parked(1), 3);
  owner->Park(2, std::nullopt, Track("session 2"));
  owner->Park(2, std::nullopt, Track("destroyed"));
  EXPECT_EQ(parking.total(), 5);
  EXPECT_EQ(budget.used(), 5 * kParkedCallBytes);

  // By id; a second completion finds it gone and gives nothing back.
  EXPECT_TRUE(owner->Complete(by_id, Outcome::Ok(true)));
  EXPECT_FALSE(owner->Complete(by_id, Outcome::Ok(true)));
  EXPECT_EQ(parking.parked(1), 2);
  // Room again: session 1 parks one more.
  owner->Park(1, std::nullopt, Track("session end"));
  EXPECT_EQ(parking.parked(1), 3);
  // By deadline.
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(IsFalse(recorder_.Of("deadline")));
  EXPECT_EQ(parking.parked(1), 2);
  // The oldest ("oldest", then session 2's first).
  EXPECT_TRUE(owner->CompleteOldest(Outcome::Ok(true)));
  EXPECT_TRUE(owner->CompleteOldest(Outcome::Ok(true)));
  EXPECT_EQ(parking.parked(1), 1);
  EXPECT_EQ(parking.parked(2), 1);
  // The session's end.
  EXPECT_EQ(owner->EndSession(1), 1);
  EXPECT_EQ(parking.parked(1), 0);
  // The owner's end (CompleteAll), as on a server shutting down.
  owner.reset();
  EXPECT_TRUE(IsCancelled(recorder_.Of("destroyed")));
  EXPECT_EQ(parking.total(), 0);
  EXPECT_EQ(parking.parked(2), 0);
  EXPECT_EQ(budget.used(), 0);
}

// Parked calls count against the memory budget: past it, Park refuses with
// LimitError naming --max-bytes, and a call given back makes room.
TEST_F(WaiterListTest, ParkedCallsCountAgainstTheMemoryBudget) {
  MemoryBudget budget(2 * kParkedCallBytes);
  ParkingLimits parking(&budget, 0);
  Owner owner(&timers_, 0, &parking);
  const WaitId a = owner.Park(1, std::nullopt, Track("a"));
  owner.Park(2, std::nullopt, Track("b"));
  EXPECT_EQ(owner.Park(3, std::nullopt, Track("c")), 0u);
  const Outcome refused = recorder_.Of("c");
  EXPECT_EQ(ErrorKindOf(refused.status), ErrorKind::kLimitError);
  EXPECT_THAT(std::string(refused.status.message()), ::testing::HasSubstr("--max-bytes"));
  EXPECT_EQ(budget.used(), 2 * kParkedCallBytes);
  EXPECT_TRUE(owner.Complete(a, Outcome::Ok(true)));
  EXPECT_NE(owner.Park(3, std::nullopt, Track("d")), 0u);
  EXPECT_EQ(owner.EndSession(2) + owner.EndSession(3), 2);
  EXPECT_EQ(budget.used(), 0);
  EXPECT_EQ(parking.total(), 0);
}

TEST_F(WaiterListTest, CompletingByIdIsOnceAndCancelsTheTimer) {
  const WaitId a = owner_->Park(1, In(absl::Seconds(1)), Track("a"));
  EXPECT_EQ(timers_.pending(), 1u);
  EXPECT_TRUE(owner_->Complete(a, Outcome::Ok(true)));
  EXPECT_EQ(recorder_.Of("a").value, Value(true));
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(timers_.cancelled().size(), 1u);

  // Whatever comes next finds it gone.
  EXPECT_FALSE(owner_->Complete(a, Outcome::Ok(false)));
  EXPECT_EQ(owner_->EndSession(1), 0);
  timers_.Advance(absl::Seconds(5));
  owner_.reset();
  EXPECT_EQ(recorder_.size(), 1u);
}

TEST_F(WaiterListTest, TheDeadlineCompletesOnceAndCancelsNothing) {
  const WaitId a = owner_->Park(1, In(absl::Seconds(1)), Track("a"));
  timers_.Advance(absl::Milliseconds(999));
  EXPECT_TRUE(recorder_.log().empty());
  timers_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(IsFalse(recorder_.Of("a")));
  // The timer that fired is the one running: nobody cancels it.
  EXPECT_TRUE(timers_.cancelled().empty());

  EXPECT_FALSE(owner_->Complete(a, Outcome::Ok(true)));
  EXPECT_EQ(owner_->EndSession(1), 0);
  owner_.reset();
  EXPECT_EQ(recorder_.size(), 1u);
}

TEST_F(WaiterListTest, NoDeadlineAndAnInfiniteOneScheduleNoTimer) {
  owner_->Park(1, std::nullopt, Track("a"));
  owner_->Park(1, absl::InfiniteFuture(), Track("b"));
  EXPECT_EQ(timers_.pending(), 0u);
  timers_.Advance(absl::Hours(24 * 365));
  EXPECT_TRUE(recorder_.log().empty());
}

TEST_F(WaiterListTest, EndingASessionCompletesItsWaitersOnlyInArrivalOrder) {
  owner_->Park(1, In(absl::Seconds(1)), Track("s1 a"));
  owner_->Park(2, In(absl::Seconds(1)), Track("s2"));
  owner_->Park(1, std::nullopt, Track("s1 b"));
  EXPECT_EQ(owner_->EndSession(3), 0);
  EXPECT_TRUE(recorder_.log().empty());

  EXPECT_EQ(owner_->EndSession(1), 2);
  EXPECT_EQ(recorder_.names(), (Names{"s1 a", "s1 b"}));
  EXPECT_TRUE(IsCancelled(recorder_.Of("s1 a")));
  EXPECT_EQ(recorder_.Of("s1 b").status.message(), "the session ended");
  // s1 a's timer went with it; s2's still runs.
  EXPECT_EQ(timers_.pending(), 1u);
  EXPECT_THAT(owner_->Waiting(), ElementsAre(Pair(2u, 1)));
  timers_.Advance(absl::Seconds(1));
  EXPECT_TRUE(IsFalse(recorder_.Of("s2")));
}

TEST_F(WaiterListTest, DestroyingTheOwnerCompletesEveryWaiterAndCancelsTheirTimers) {
  owner_->Park(1, In(absl::Seconds(1)), Track("a"));
  owner_->Park(2, std::nullopt, Track("b"));
  owner_->Park(3, In(absl::Seconds(2)), Track("c"));
  owner_.reset();
  EXPECT_EQ(recorder_.names(), (Names{"a", "b", "c"}));
  for (const std::string& name : {"a", "b", "c"}) {
    EXPECT_EQ(recorder_.Of(name).status.message(), "the owner was destroyed");
  }
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(timers_.cancelled().size(), 2u);
  timers_.Advance(absl::Seconds(5));
  EXPECT_EQ(recorder_.size(), 3u);
}

TEST_F(WaiterListTest, TimersAreCancelledBeforeAnyCompletionRuns) {
  // A completion may free the owner: by then no timer of a waiter it
  // completed may be left to fire.
  owner_->Park(1, In(absl::Seconds(1)), [this](Outcome) {
    EXPECT_EQ(timers_.cancelled().size(), 2u);
    EXPECT_EQ(timers_.pending(), 0u);
  });
  owner_->Park(1, In(absl::Seconds(1)), Track("b"));
  EXPECT_EQ(owner_->EndSession(1), 2);
  EXPECT_EQ(recorder_.size(), 1u);
}

TEST_F(WaiterListTest, ACompletionMayDestroyTheOwner) {
  owner_->Park(1, In(absl::Seconds(1)), [this](Outcome) { owner_.reset(); });
  owner_->Park(1, In(absl::Seconds(2)), Track("b"));
  timers_.Advance(absl::Seconds(1));
  EXPECT_EQ(owner_, nullptr);
  EXPECT_TRUE(IsCancelled(recorder_.Of("b")));
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(WaiterListTest, ThePayloadMayChangeBeforeTheWaiterIsCompleted) {
  owner_->Park(1, std::nullopt, Track("a"), 40);
  owner_->Park(1, std::nullopt, Track("b"), 7);
  EXPECT_TRUE(owner_->CompleteOldestWithPayload(2));
  EXPECT_EQ(recorder_.Of("a").value, Value(42));
  EXPECT_FALSE(recorder_.Has("b"));
}

// Completions racing from four directions (by id, oldest first, by
// deadline, by session end), then the owner's end: every waiter completes
// exactly once, and no timer is left.
TEST_F(WaiterListTest, RacingCompletionsCompleteEachWaiterExactlyOnce) {
  constexpr int kWaiters = 300;
  std::vector<std::atomic<int>> completions(kWaiters);
  std::vector<WaitId> ids(kWaiters);
  for (int i = 0; i < kWaiters; ++i) {
    const std::optional<absl::Time> deadline =
        i % 4 == 0 ? std::nullopt : std::optional<absl::Time>(In(absl::Milliseconds(i % 97)));
    ids[i] = owner_->Park(SessionId(i % 3), deadline,
                          [&completions, i](Outcome) { completions[i].fetch_add(1); });
  }
  std::thread clock([this] {
    for (int ms = 0; ms < 100; ++ms) timers_.Advance(absl::Milliseconds(1));
  });
  std::thread by_id([this, &ids] {
    for (int i = 0; i < kWaiters; i += 2) owner_->Complete(ids[i], Outcome::Ok(true));
  });
  std::thread by_session([this] {
    for (int round = 0; round < 50; ++round) owner_->EndSession(1);
  });
  std::thread oldest([this] {
    for (int round = 0; round < 50; ++round) owner_->CompleteOldest(Outcome::Ok(true));
  });
  clock.join();
  by_id.join();
  by_session.join();
  oldest.join();
  owner_.reset();
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(completions[i].load(), 1) << "waiter " << i;
  EXPECT_EQ(timers_.pending(), 0u);
}

}  // namespace
}  // namespace shoal::server
