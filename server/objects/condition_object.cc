#include "server/objects/condition_object.h"

#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/objects/waiter_list.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {
namespace {

// The id tag of the condition's own waiters; the ids of its lock (from an
// Acquire made through the condition) carry the lock's tag, 0, so that
// Cancel can tell which is which.
constexpr WaitIdTag kConditionTag = 1;

// A waiter that left the condition's list, notified or timed out, and asks
// for the lock back: its Wait answers once the lock is its own again.
struct Reacquiring {
  SessionId session = 0;
  // The lock's id of the request, once it parked there.
  WaitId lock_wait = 0;
  // A Cancel came before lock_wait was known: whoever learns lock_wait
  // cancels it.
  bool cancel_requested = false;
};

// Asks that r's re-acquire be cancelled. Returns the lock's id to cancel,
// or 0 when the request has not parked at the lock yet: then it cancels
// itself once it has.
WaitId CancelReacquire(Reacquiring& r) {
  if (r.lock_wait == 0) r.cancel_requested = true;
  return r.lock_wait;
}

}  // namespace

struct ConditionObject::State {
  State(Timers* timers, WaiterList<>::DeadlineHandler on_deadline)
      : waiting(timers, kConditionTag, std::move(on_deadline)) {}

  Mutex mu;
  // Waiters parked until a notify or their deadline. Their completions are
  // ThenReacquire's: True (notified) and False (timed out) send them to take
  // the lock again, after the waiter was recorded in reacquiring.
  WaiterList<> waiting ABSL_GUARDED_BY(mu);
  // Waiters taking the lock again, by the condition's id.
  std::map<WaitId, Reacquiring> reacquiring ABSL_GUARDED_BY(mu);
};

ConditionObject::ConditionObject(Timers* timers, std::shared_ptr<LockObject> lock)
    : Object(Kind::kCondition),
      timers_(timers),
      owns_lock_(lock == nullptr),
      lock_(lock != nullptr ? std::move(lock) : std::make_shared<LockObject>(Kind::kRLock, timers)),
      state_(std::make_shared<State>(timers, [this](WaitId id) { Expire(id); })) {}

ConditionObject::~ConditionObject() {
  std::vector<WaitId> lock_waits;
  {
    // The settlement cancels the waiters' timers, waiting out a running
    // one, before their completions run.
    Settlement settle(timers_);
    MutexLock hold(&state_->mu);
    state_->waiting.CompleteAll(Outcome::Error(absl::CancelledError("the condition was destroyed")),
                                settle);
    for (auto& [id, r] : state_->reacquiring) {
      if (const WaitId lock_wait = CancelReacquire(r); lock_wait != 0) {
        lock_waits.push_back(lock_wait);
      }
    }
  }
  for (WaitId lock_wait : lock_waits) lock_->Cancel(lock_wait);
}

WaitId ConditionObject::Acquire(WaitRequest request) { return lock_->Acquire(std::move(request)); }

absl::Status ConditionObject::Release(Caller caller) { return lock_->Release(caller); }

WaitId ConditionObject::Wait(WaitRequest request) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  // Locals, because a completion run below may free the object.
  const std::shared_ptr<LockObject> lock = lock_;
  const std::shared_ptr<State> state = state_;
  const SessionId session = request.caller.session;
  WaitId id = 0;
  bool owned = false;
  {
    // Runs the completion of a wait that may not wait, or that the parking
    // limits refused, once the lock's mutex is let go.
    Settlement settle(timers_);
    // Runs under the lock's mutex, before the lock is let go: a notifier has
    // to hold the lock, so none can pick the waiters before this one is
    // parked.
    // Returns whether the lock is to be let go: not when the parking limits
    // refused the wait, which then fails with their LimitError (through
    // ThenReacquire, as an error, without a re-acquire) while the caller
    // still holds the lock.
    auto park = [&](int64_t count) {
      MutexLock hold(&state->mu);
      const WaitId next = state->waiting.NextId();
      // A wait that may not wait leaves the list at once: it is not charged.
      Caller caller = request.caller;
      if (must_not_wait) caller.parking = nullptr;
      id = state->waiting.Park(
          caller, must_not_wait ? std::nullopt : request.deadline,
          ThenReacquire(lock, state, next, session, count, std::move(request.done)), settle);
      if (id == 0) return false;
      if (must_not_wait) {
        // It times out at once, as a deadline would: the lock is let go and
        // taken again (Python's wait(0)).
        state->reacquiring.emplace(id, Reacquiring{session});
        state->waiting.Complete(id, Outcome::Ok(false), settle);
      }
      return true;
    };
    owned = lock->ReleaseSave(request.caller, park);
  }
  if (!owned) {
    std::move(request.done)(Outcome::Error(error::RuntimeError("cannot wait on un-acquired lock")));
    return 0;
  }
  if (!must_not_wait) return id;
  // Cancel is of use only while the re-acquire waits at the lock.
  MutexLock hold(&state->mu);
  return state->reacquiring.count(id) != 0 ? id : 0;
}

void ConditionObject::Expire(WaitId id) {
  const std::shared_ptr<State> state = state_;
  Settlement settle(timers_);
  MutexLock hold(&state->mu);
  const auto* waiter = state->waiting.Find(id);
  if (waiter == nullptr) return;  // Notified or cancelled first.
  state->reacquiring.emplace(id, Reacquiring{waiter->session});
  state->waiting.CompleteExpired(id, Outcome::Ok(false), settle);
}

Completion ConditionObject::ThenReacquire(std::shared_ptr<LockObject> lock,
                                          std::shared_ptr<State> state, WaitId id,
                                          SessionId session, int64_t count, Completion done) {
  return [lock = std::move(lock), state = std::move(state), id, session, count,
          done = std::move(done)](Outcome outcome) mutable {
    if (!outcome.status.ok()) {  // Cancelled: no re-acquire.
      std::move(done)(std::move(outcome));
      return;
    }
    const bool notified = outcome.value == Value(true);
    // The re-acquire is not charged to the parking limits: it goes on a wait
    // that was admitted, and refusing it would leave the caller without the
    // lock that Python's wait() returns holding.
    const WaitId lock_wait = lock->AcquireRestore(
        Caller{session}, count,
        [state, id, notified, done = std::move(done)](Outcome lock_outcome) mutable {
          FinishWait(*state, id, notified, std::move(lock_outcome), std::move(done));
        });
    if (lock_wait == 0) return;
    bool cancel = false;
    {
      MutexLock hold(&state->mu);
      auto it = state->reacquiring.find(id);
      if (it != state->reacquiring.end()) {  // Else granted or cancelled already.
        it->second.lock_wait = lock_wait;
        cancel = it->second.cancel_requested;
      }
    }
    if (cancel) lock->Cancel(lock_wait);
  };
}

void ConditionObject::FinishWait(State& state, WaitId id, bool notified, Outcome lock_outcome,
                                 Completion done) {
  {
    MutexLock hold(&state.mu);
    state.reacquiring.erase(id);
  }
  if (!lock_outcome.status.ok()) {
    std::move(done)(Outcome::Error(std::move(lock_outcome.status)));
    return;
  }
  Outcome outcome = Outcome::Ok(notified);
  outcome.fencing_token = lock_outcome.fencing_token;
  std::move(done)(std::move(outcome));
}

absl::Status ConditionObject::Notify(Caller caller, int64_t n) {
  if (n < 0) return error::ValueError("n must be zero or more");
  if (!lock_->IsOwned(caller)) return error::RuntimeError("cannot notify on un-acquired lock");
  const std::shared_ptr<State> state = state_;
  Settlement settle(timers_);
  MutexLock hold(&state->mu);
  for (; n > 0; --n) {
    const auto* oldest = state->waiting.Oldest();
    if (oldest == nullptr) break;
    state->reacquiring.emplace(oldest->id, Reacquiring{oldest->session});
    state->waiting.CompleteOldest(Outcome::Ok(true), settle);
  }
  return absl::OkStatus();
}

absl::Status ConditionObject::NotifyAll(Caller caller) {
  return Notify(caller, std::numeric_limits<int64_t>::max());
}

int64_t ConditionObject::NWaiting() const {
  MutexLock hold(&state_->mu);
  return state_->waiting.size();
}

void ConditionObject::Cancel(WaitId id) {
  if (!HasWaitIdTag(id, kConditionTag)) {
    lock_->Cancel(id);
    return;
  }
  const std::shared_ptr<LockObject> lock = lock_;
  WaitId lock_wait = 0;
  {
    Settlement settle(timers_);
    MutexLock hold(&state_->mu);
    if (!state_->waiting.Complete(id, WaitCancelled(), settle)) {
      auto it = state_->reacquiring.find(id);
      if (it != state_->reacquiring.end()) lock_wait = CancelReacquire(it->second);
    }
  }
  if (lock_wait != 0) lock->Cancel(lock_wait);
}

void ConditionObject::EndSession(SessionId session) {
  const std::shared_ptr<LockObject> lock = lock_;
  const bool owns_lock = owns_lock_;
  std::vector<WaitId> lock_waits;
  {
    Settlement settle(timers_);
    MutexLock hold(&state_->mu);
    state_->waiting.CompleteSession(session, SessionEnded(), settle);
    for (auto& [id, r] : state_->reacquiring) {
      if (r.session != session) continue;
      if (const WaitId lock_wait = CancelReacquire(r); lock_wait != 0) {
        lock_waits.push_back(lock_wait);
      }
    }
  }
  for (WaitId lock_wait : lock_waits) lock->Cancel(lock_wait);
  if (owns_lock) lock->EndSession(session);
}

std::string ConditionObject::Repr() const {
  const std::string lock = lock_->Repr();
  return absl::StrCat("<Condition(", lock, "), ", NWaiting(), " waiting>");
}

int64_t ConditionObject::Size() const { return 0; }

Holdings ConditionObject::Held() const {
  Holdings holdings;
  holdings.held = lock_->Held().held;
  SessionCounts waiting;
  // The re-acquires parked on the lock are left to the loop over
  // reacquiring below, which also counts those not parked there yet.
  lock_->CountAcquires(waiting);
  MutexLock hold(&state_->mu);
  state_->waiting.CountSessions(waiting);
  for (const auto& [id, r] : state_->reacquiring) ++waiting[r.session];
  holdings.waiting = CountPairs(waiting);
  return holdings;
}

}  // namespace shoal::server
