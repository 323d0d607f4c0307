#include "server/objects/condition_object.h"

#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"
#include "shared/mutex.h"

namespace shoal::server {
namespace {

// Ids of the condition's own waiters carry this bit; the lock's ids (from
// Acquire made through the condition) never reach it, so Cancel can tell
// which is which.
constexpr WaitId kWaitTag = WaitId{1} << 63;

struct Waiter {
  SessionId session = 0;
  // The recursion count to restore when re-acquiring.
  int64_t count = 1;
  Completion done;
  // Set while the wait's deadline timer may be pending or running.
  std::optional<Timers::TimerId> timer;
  // Once re-acquiring: the lock's id of the request, when it parked.
  WaitId lock_wait = 0;
  // A Cancel came while re-acquiring, before lock_wait was known: whoever
  // learns lock_wait cancels it.
  bool cancel_requested = false;
};

absl::Status CancelledBySession() { return absl::CancelledError("the session ended"); }

}  // namespace

struct ConditionObject::State {
  Mutex mu;
  // Waiters parked until a notify or their deadline, by id: arrival order.
  std::map<WaitId, Waiter> waiting ABSL_GUARDED_BY(mu);
  // Waiters notified or timed out, waiting for the lock again.
  std::map<WaitId, Waiter> reacquiring ABSL_GUARDED_BY(mu);
  WaitId next_id ABSL_GUARDED_BY(mu) = 1;
};

ConditionObject::ConditionObject(Timers* timers, std::shared_ptr<LockObject> lock)
    : Object(Kind::kCondition),
      timers_(timers),
      owns_lock_(lock == nullptr),
      lock_(lock != nullptr ? std::move(lock) : std::make_shared<LockObject>(Kind::kRLock, timers)),
      state_(std::make_shared<State>()) {}

ConditionObject::~ConditionObject() {
  // First no timer callback runs or will run; then nothing moves waiters but
  // the lock's completions, which need only state_.
  std::vector<Timers::TimerId> timers;
  {
    MutexLock lock(&state_->mu);
    for (const auto* waiters : {&state_->waiting, &state_->reacquiring}) {
      for (const auto& [id, waiter] : *waiters) {
        if (waiter.timer.has_value()) timers.push_back(*waiter.timer);
      }
    }
  }
  for (Timers::TimerId timer : timers) timers_->Cancel(timer);

  std::map<WaitId, Waiter> waiting;
  std::vector<WaitId> lock_waits;
  {
    MutexLock lock(&state_->mu);
    waiting.swap(state_->waiting);
    for (auto& [id, waiter] : state_->reacquiring) {
      if (waiter.lock_wait != 0) {
        lock_waits.push_back(waiter.lock_wait);
      } else {
        waiter.cancel_requested = true;
      }
    }
  }
  for (WaitId lock_wait : lock_waits) lock_->Cancel(lock_wait);
  for (auto& [id, waiter] : waiting) {
    std::move(waiter.done)(Outcome::Error(absl::CancelledError("the condition was destroyed")));
  }
}

WaitId ConditionObject::Acquire(WaitRequest request) { return lock_->Acquire(std::move(request)); }

absl::Status ConditionObject::Release(Caller caller) { return lock_->Release(caller); }

WaitId ConditionObject::Wait(WaitRequest request) {
  const std::optional<absl::Time> deadline = FiniteDeadline(request.deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  // Locals, because a completion run below may free the object.
  const std::shared_ptr<LockObject> lock = lock_;
  const std::shared_ptr<State> state = state_;
  WaitId id = 0;
  int64_t count = 0;
  // Runs under the lock's mutex, before the lock is let go: a notifier has to
  // hold the lock, so none can pick the waiters before this one is parked.
  auto park = [&](int64_t held) {
    MutexLock hold(&state->mu);
    id = kWaitTag | state->next_id++;
    count = held;
    Waiter waiter;
    waiter.session = request.caller.session;
    waiter.count = held;
    waiter.done = std::move(request.done);
    if (must_not_wait) {
      state->reacquiring.emplace(id, std::move(waiter));
      return;
    }
    if (deadline.has_value()) {
      const WaitId timed = id;
      waiter.timer = timers_->Schedule(*deadline, [this, timed] { Expire(timed); });
    }
    state->waiting.emplace(id, std::move(waiter));
  };
  if (!lock->ReleaseSave(request.caller, park)) {
    std::move(request.done)(Outcome::Error(error::RuntimeError("cannot wait on un-acquired lock")));
    return 0;
  }
  if (must_not_wait) {
    return Reacquire(lock, state, id, request.caller.session, count, /*notified=*/false) ? id : 0;
  }
  return id;
}

void ConditionObject::Expire(WaitId id) {
  const std::shared_ptr<LockObject> lock = lock_;
  const std::shared_ptr<State> state = state_;
  SessionId session = 0;
  int64_t count = 0;
  {
    MutexLock hold(&state->mu);
    auto node = state->waiting.extract(id);
    if (node.empty()) return;  // Notified or cancelled first.
    session = node.mapped().session;
    count = node.mapped().count;
    // The timer stays recorded: the destructor's Cancel waits this out.
    state->reacquiring.insert(std::move(node));
  }
  Reacquire(lock, state, id, session, count, /*notified=*/false);
}

bool ConditionObject::Reacquire(const std::shared_ptr<LockObject>& lock,
                                const std::shared_ptr<State>& state, WaitId id, SessionId session,
                                int64_t count, bool notified) {
  const WaitId lock_wait =
      lock->AcquireRestore(Caller{session}, count, [state, id, notified](Outcome outcome) {
        FinishWait(*state, id, notified, std::move(outcome));
      });
  if (lock_wait == 0) return false;
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
  return true;
}

void ConditionObject::FinishWait(State& state, WaitId id, bool notified, Outcome lock_outcome) {
  Completion done;
  {
    MutexLock hold(&state.mu);
    auto node = state.reacquiring.extract(id);
    if (node.empty()) return;  // Cannot happen: the lock completes a request once.
    done = std::move(node.mapped().done);
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
  const std::shared_ptr<LockObject> lock = lock_;
  const std::shared_ptr<State> state = state_;
  Timers* const timers = timers_;
  if (!lock->IsOwned(caller)) return error::RuntimeError("cannot notify on un-acquired lock");
  struct Woken {
    WaitId id;
    SessionId session;
    int64_t count;
  };
  std::vector<Woken> woken;
  std::vector<Timers::TimerId> timers_to_cancel;
  {
    MutexLock hold(&state->mu);
    for (; n > 0 && !state->waiting.empty(); --n) {
      auto node = state->waiting.extract(state->waiting.begin());
      Waiter& waiter = node.mapped();
      if (waiter.timer.has_value()) timers_to_cancel.push_back(*waiter.timer);
      waiter.timer.reset();
      woken.push_back(Woken{node.key(), waiter.session, waiter.count});
      state->reacquiring.insert(std::move(node));
    }
  }
  for (Timers::TimerId timer : timers_to_cancel) timers->Cancel(timer);
  for (const Woken& w : woken) Reacquire(lock, state, w.id, w.session, w.count, /*notified=*/true);
  return absl::OkStatus();
}

absl::Status ConditionObject::NotifyAll(Caller caller) {
  return Notify(caller, std::numeric_limits<int64_t>::max());
}

int64_t ConditionObject::NWaiting() const {
  MutexLock hold(&state_->mu);
  return static_cast<int64_t>(state_->waiting.size());
}

void ConditionObject::Cancel(WaitId id) {
  if ((id & kWaitTag) == 0) {
    lock_->Cancel(id);
    return;
  }
  const std::shared_ptr<LockObject> lock = lock_;
  Timers* const timers = timers_;
  Completion done;
  std::optional<Timers::TimerId> timer;
  WaitId lock_wait = 0;
  {
    MutexLock hold(&state_->mu);
    auto node = state_->waiting.extract(id);
    if (!node.empty()) {
      done = std::move(node.mapped().done);
      timer = node.mapped().timer;
    } else if (auto it = state_->reacquiring.find(id); it != state_->reacquiring.end()) {
      lock_wait = it->second.lock_wait;
      if (lock_wait == 0) it->second.cancel_requested = true;
    }
  }
  if (timer.has_value()) timers->Cancel(*timer);
  if (lock_wait != 0) lock->Cancel(lock_wait);
  if (done) std::move(done)(Outcome::Error(absl::CancelledError("the wait was cancelled")));
}

void ConditionObject::EndSession(SessionId session) {
  const std::shared_ptr<LockObject> lock = lock_;
  const bool owns_lock = owns_lock_;
  Timers* const timers = timers_;
  std::vector<Completion> cancelled;
  std::vector<Timers::TimerId> timers_to_cancel;
  std::vector<WaitId> lock_waits;
  {
    MutexLock hold(&state_->mu);
    for (auto it = state_->waiting.begin(); it != state_->waiting.end();) {
      if (it->second.session != session) {
        ++it;
        continue;
      }
      if (it->second.timer.has_value()) timers_to_cancel.push_back(*it->second.timer);
      cancelled.push_back(std::move(it->second.done));
      it = state_->waiting.erase(it);
    }
    for (auto& [id, waiter] : state_->reacquiring) {
      if (waiter.session != session) continue;
      if (waiter.lock_wait != 0) {
        lock_waits.push_back(waiter.lock_wait);
      } else {
        waiter.cancel_requested = true;
      }
    }
  }
  for (Timers::TimerId timer : timers_to_cancel) timers->Cancel(timer);
  for (WaitId lock_wait : lock_waits) lock->Cancel(lock_wait);
  if (owns_lock) lock->EndSession(session);
  for (Completion& done : cancelled) std::move(done)(Outcome::Error(CancelledBySession()));
}

std::string ConditionObject::Repr() const {
  const std::string lock = lock_->Repr();
  return absl::StrCat("<Condition(", lock, "), ", NWaiting(), " waiting>");
}

int64_t ConditionObject::Size() const { return 0; }

Holdings ConditionObject::Held() const {
  Holdings holdings;
  holdings.held = lock_->Held().held;
  MutexLock hold(&state_->mu);
  SessionCounts waiting;
  for (const auto* waiters : {&state_->waiting, &state_->reacquiring}) {
    for (const auto& [id, waiter] : *waiters) ++waiting[waiter.session];
  }
  holdings.waiting = CountPairs(waiting);
  return holdings;
}

}  // namespace shoal::server
