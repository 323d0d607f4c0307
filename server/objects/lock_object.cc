#include "server/objects/lock_object.h"

#include <cassert>
#include <utility>

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
      timers_(timers),
      waiters_(timers, [this](WaitId id) { Expire(id); }) {
  assert(kind == Kind::kLock || kind == Kind::kRLock);
}

LockObject::~LockObject() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteAll(Outcome::Error(absl::CancelledError("the lock was destroyed")), settle);
}

WaitId LockObject::Acquire(WaitRequest request) {
  return AcquireWithCount(request.caller, 1, /*restore=*/false, request.deadline,
                          std::move(request.done));
}

WaitId LockObject::AcquireRestore(Caller caller, int64_t count, Completion done) {
  return AcquireWithCount(caller, reentrant_ ? count : 1, /*restore=*/true, std::nullopt,
                          std::move(done));
}

WaitId LockObject::AcquireWithCount(Caller caller, int64_t count, bool restore,
                                    std::optional<absl::Time> deadline, Completion done) {
  const bool must_not_wait = DeadlinePassed(deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!holder_.has_value()) {
    holder_ = caller.session;
    count_ = count;
    settle.CompleteNow(std::move(done), Granted(++last_token_));
    return 0;
  }
  if (reentrant_ && !restore && *holder_ == caller.session) {
    ++count_;
    settle.CompleteNow(std::move(done), Granted(last_token_));
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(done), Outcome::Ok(false));
    return 0;
  }
  return waiters_.Park(caller, deadline, std::move(done), settle, Acquirer{count, restore});
}

void LockObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteExpired(id, Outcome::Ok(false), settle);
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
  waiters_.Complete(id, WaitCancelled(), settle);
}

LockObject::Description LockObject::Describe() const {
  MutexLock lock(&mu_);
  Description description;
  description.holder = holder_;
  description.recursion_count = count_;
  description.waiting = waiters_.size();
  description.last_fencing_token = last_token_;
  return description;
}

void LockObject::CountAcquires(SessionCounts& counts) const {
  MutexLock lock(&mu_);
  waiters_.ForEach([&counts](const auto& waiter) {
    if (!waiter.payload.restore) ++counts[waiter.session];
  });
}

bool LockObject::IsOwned(Caller caller) const {
  MutexLock lock(&mu_);
  return IsOwnedLocked(caller.session);
}

bool LockObject::IsOwnedLocked(SessionId session) const {
  if (!holder_.has_value()) return false;
  return *holder_ == session || any_session_may_release_;
}

bool LockObject::ReleaseSave(Caller caller, absl::FunctionRef<bool(int64_t count)> before_release) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!IsOwnedLocked(caller.session)) return false;
  if (!before_release(count_)) return true;
  Free();
  GrantNext(settle);
  return true;
}

void LockObject::Free() {
  holder_.reset();
  count_ = 0;
}

void LockObject::GrantNext(Settlement& settle) {
  const auto* next = waiters_.Oldest();
  if (holder_.has_value() || next == nullptr) return;
  holder_ = next->session;
  count_ = next->payload.count;
  waiters_.CompleteOldest(Granted(++last_token_), settle);
}

void LockObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteSession(session, SessionEnded(), settle);
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
  waiters_.CountSessions(waiting);
  holdings.waiting = CountPairs(waiting);
  return holdings;
}

}  // namespace shoal::server
