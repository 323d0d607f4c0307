#include "server/objects/lock_object.h"

#include <cassert>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

Outcome Granted(int64_t fencing_token) {
  Outcome outcome = Outcome::Ok(true);
  outcome.fencing_token = fencing_token;
  return outcome;
}

}  // namespace

LockObject::LockObject(Kind kind, Timers* timers, bool any_session_may_release)
    : Object(kind),
      reentrant_(kind == Kind::kRLock),
      any_session_may_release_(any_session_may_release && kind == Kind::kLock),
      timers_(timers) {
  assert(kind == Kind::kLock || kind == Kind::kRLock);
}

LockObject::~LockObject() {
  std::map<WaitId, Waiter> left;
  {
    MutexLock lock(&mu_);
    left.swap(waiters_);
  }
  // A timer callback blocked on mu_ finds no waiter once it gets it; Cancel
  // waits it out.
  Settlement settle(timers_);
  for (auto& [id, waiter] : left) {
    settle.Complete(std::move(waiter.done),
                    Outcome::Error(absl::CancelledError("the lock was destroyed")), waiter.timer);
  }
}

WaitId LockObject::Acquire(WaitRequest request) {
  return AcquireWithCount(request.caller, 1, /*restore=*/false, FiniteDeadline(request.deadline),
                          std::move(request.done));
}

WaitId LockObject::AcquireRestore(Caller caller, int64_t count, Completion done) {
  return AcquireWithCount(caller, reentrant_ ? count : 1, /*restore=*/true, std::nullopt,
                          std::move(done));
}

WaitId LockObject::AcquireWithCount(Caller caller, int64_t count, bool restore,
                                    std::optional<absl::Time> deadline, Completion done) {
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!holder_.has_value()) {
    holder_ = caller.session;
    count_ = count;
    settle.Complete(std::move(done), Granted(++last_token_), std::nullopt);
    return 0;
  }
  if (reentrant_ && !restore && *holder_ == caller.session) {
    ++count_;
    settle.Complete(std::move(done), Granted(last_token_), std::nullopt);
    return 0;
  }
  if (must_not_wait) {
    settle.Complete(std::move(done), Outcome::Ok(false), std::nullopt);
    return 0;
  }
  const WaitId id = next_id_++;
  Waiter& waiter = waiters_[id];
  waiter.session = caller.session;
  waiter.count = count;
  waiter.done = std::move(done);
  if (deadline.has_value()) {
    waiter.timer = timers_->Schedule(*deadline, [this, id] { Expire(id); });
  }
  return id;
}

void LockObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;  // Granted or cancelled first.
  // The running timer is this one: nothing to cancel.
  settle.Complete(std::move(it->second.done), Outcome::Ok(false), std::nullopt);
  waiters_.erase(it);
}

absl::Status LockObject::Release(Caller caller) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (reentrant_) {
    if (!holder_.has_value() || *holder_ != caller.session) {
      return error::RuntimeError("cannot release un-acquired lock");
    }
    if (--count_ > 0) return absl::OkStatus();
  } else {
    if (!holder_.has_value()) return error::RuntimeError("release unlocked lock");
    if (*holder_ != caller.session && !any_session_may_release_) {
      return error::RuntimeError("cannot release a lock held by another session");
    }
  }
  Free();
  GrantNext(settle);
  return absl::OkStatus();
}

bool LockObject::Locked() const {
  MutexLock lock(&mu_);
  return holder_.has_value();
}

void LockObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  settle.Complete(std::move(it->second.done),
                  Outcome::Error(absl::CancelledError("the wait was cancelled")), it->second.timer);
  waiters_.erase(it);
}

LockObject::Description LockObject::Describe() const {
  MutexLock lock(&mu_);
  Description description;
  description.holder = holder_;
  description.recursion_count = count_;
  description.waiting = static_cast<int64_t>(waiters_.size());
  description.last_fencing_token = last_token_;
  return description;
}

bool LockObject::IsOwned(Caller caller) const {
  MutexLock lock(&mu_);
  return IsOwnedLocked(caller.session);
}

bool LockObject::IsOwnedLocked(SessionId session) const {
  if (!holder_.has_value()) return false;
  return *holder_ == session || any_session_may_release_;
}

bool LockObject::ReleaseSave(Caller caller, absl::FunctionRef<void(int64_t count)> before_release) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!IsOwnedLocked(caller.session)) return false;
  before_release(count_);
  Free();
  GrantNext(settle);
  return true;
}

void LockObject::Free() {
  holder_.reset();
  count_ = 0;
}

void LockObject::GrantNext(Settlement& settle) {
  if (holder_.has_value() || waiters_.empty()) return;
  auto it = waiters_.begin();
  holder_ = it->second.session;
  count_ = it->second.count;
  settle.Complete(std::move(it->second.done), Granted(++last_token_), it->second.timer);
  waiters_.erase(it);
}

void LockObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.session != session) {
      ++it;
      continue;
    }
    settle.Complete(std::move(it->second.done),
                    Outcome::Error(absl::CancelledError("the session ended")), it->second.timer);
    it = waiters_.erase(it);
  }
  if (holder_ == session) {
    Free();
    GrantNext(settle);
  }
}

std::string LockObject::Repr() const {
  MutexLock lock(&mu_);
  const char* name = reentrant_ ? "RLock" : "Lock";
  if (!holder_.has_value()) return absl::StrCat("<", name, " unlocked>");
  if (reentrant_) {
    return absl::StrCat("<", name, " locked by session ", *holder_, ", count ", count_, ", ",
                        waiters_.size(), " waiting>");
  }
  return absl::StrCat("<", name, " locked by session ", *holder_, ", ", waiters_.size(),
                      " waiting>");
}

int64_t LockObject::Size() const { return 0; }

Holdings LockObject::Held() const {
  MutexLock lock(&mu_);
  Holdings holdings;
  if (holder_.has_value()) holdings.held.emplace_back(*holder_, count_);
  SessionCounts waiting;
  for (const auto& [id, waiter] : waiters_) ++waiting[waiter.session];
  holdings.waiting = CountPairs(waiting);
  return holdings;
}

}  // namespace shoal::server
