#include "server/objects/semaphore_object.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

}  // namespace

absl::StatusOr<std::unique_ptr<SemaphoreObject>> SemaphoreObject::Create(
    Kind kind, int64_t value, Timers* timers, std::optional<bool> release_at_session_end) {
  if (kind != Kind::kSemaphore && kind != Kind::kBoundedSemaphore) {
    return absl::InvalidArgumentError(
        absl::StrCat("a semaphore cannot be of kind ", KindName(kind)));
  }
  if (value < 0) return error::ValueError("semaphore initial value must be >= 0");
  return std::make_unique<SemaphoreObject>(
      kind, value, timers, release_at_session_end.value_or(DefaultReleaseAtSessionEnd(kind)));
}

SemaphoreObject::SemaphoreObject(Kind kind, int64_t value, Timers* timers,
                                 bool release_at_session_end)
    : Object(kind),
      bounded_(kind == Kind::kBoundedSemaphore),
      initial_value_(value),
      release_at_session_end_(release_at_session_end),
      timers_(timers),
      value_(value),
      waiters_(timers, [this](WaitId id) { Expire(id); }) {}

SemaphoreObject::~SemaphoreObject() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteAll(Outcome::Error(absl::CancelledError("the semaphore was destroyed")), settle);
}

WaitId SemaphoreObject::Acquire(WaitRequest request) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (value_ > 0) {
    --value_;
    ++held_[request.caller.session];
    settle.CompleteNow(std::move(request.done), Outcome::Ok(true));
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(false));
    return 0;
  }
  return waiters_.Park(request.caller, request.deadline, std::move(request.done), settle);
}

void SemaphoreObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteExpired(id, Outcome::Ok(false), settle);
}

absl::Status SemaphoreObject::Release(Caller caller, int64_t n) {
  if (n < 1) return error::ValueError("n must be one or more");
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (bounded_ && n > initial_value_ - value_) {
    return error::ValueError("Semaphore released too many times");
  }
  if (n > kInt64Max - value_) return error::ValueError("semaphore value too large");
  value_ += n;
  auto held = held_.find(caller.session);
  if (held != held_.end()) {
    held->second -= std::min(held->second, n);
    if (held->second == 0) held_.erase(held);
  }
  GrantWaiters(settle);
  return absl::OkStatus();
}

void SemaphoreObject::GrantWaiters(Settlement& settle) {
  while (value_ > 0) {
    const auto* next = waiters_.Oldest();
    if (next == nullptr) return;
    --value_;
    ++held_[next->session];
    waiters_.CompleteOldest(Outcome::Ok(true), settle);
  }
}

int64_t SemaphoreObject::Value() const {
  MutexLock lock(&mu_);
  return value_;
}

int64_t SemaphoreObject::HeldBy(SessionId session) const {
  MutexLock lock(&mu_);
  auto it = held_.find(session);
  return it == held_.end() ? 0 : it->second;
}

int64_t SemaphoreObject::NWaiting() const {
  MutexLock lock(&mu_);
  return waiters_.size();
}

void SemaphoreObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.Complete(id, WaitCancelled(), settle);
}

void SemaphoreObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteSession(session, SessionEnded(), settle);
  auto held = held_.find(session);
  if (held == held_.end()) return;
  if (!release_at_session_end_) {
    // The permits stay taken, as a Python semaphore's would: only the count
    // shown for the session goes.
    held_.erase(held);
    return;
  }
  // Other sessions' releases may have covered these permits already; a
  // bounded semaphore then takes back only up to its initial value.
  const int64_t limit = bounded_ ? initial_value_ : kInt64Max;
  value_ += std::min(held->second, limit - value_);
  held_.erase(held);
  GrantWaiters(settle);
}

std::string SemaphoreObject::Repr() const {
  MutexLock lock(&mu_);
  if (bounded_) {
    return absl::StrCat("<BoundedSemaphore value=", value_, "/", initial_value_, ", ",
                        waiters_.size(), " waiting>");
  }
  return absl::StrCat("<Semaphore value=", value_, ", ", waiters_.size(), " waiting>");
}

int64_t SemaphoreObject::Size() const { return 0; }

Holdings SemaphoreObject::Held() const {
  MutexLock lock(&mu_);
  Holdings holdings;
  holdings.held.assign(held_.begin(), held_.end());
  SessionCounts waiting;
  waiters_.CountSessions(waiting);
  holdings.waiting = CountPairs(waiting);
  return holdings;
}

}  // namespace shoal::server
