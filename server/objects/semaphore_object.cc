#include "server/objects/semaphore_object.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

}  // namespace

absl::StatusOr<std::unique_ptr<SemaphoreObject>> SemaphoreObject::Create(Kind kind, int64_t value,
                                                                         Timers* timers) {
  if (kind != Kind::kSemaphore && kind != Kind::kBoundedSemaphore) {
    return absl::InvalidArgumentError(
        absl::StrCat("a semaphore cannot be of kind ", KindName(kind)));
  }
  if (value < 0) return error::ValueError("semaphore initial value must be >= 0");
  return std::make_unique<SemaphoreObject>(kind, value, timers);
}

SemaphoreObject::SemaphoreObject(Kind kind, int64_t value, Timers* timers)
    : Object(kind),
      bounded_(kind == Kind::kBoundedSemaphore),
      initial_value_(value),
      timers_(timers),
      value_(value) {}

SemaphoreObject::~SemaphoreObject() {
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
                    Outcome::Error(absl::CancelledError("the semaphore was destroyed")),
                    waiter.timer);
  }
}

WaitId SemaphoreObject::Acquire(WaitRequest request) {
  const std::optional<absl::Time> deadline = FiniteDeadline(request.deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (value_ > 0) {
    --value_;
    ++held_[request.caller.session];
    settle.Complete(std::move(request.done), Outcome::Ok(true), std::nullopt);
    return 0;
  }
  if (must_not_wait) {
    settle.Complete(std::move(request.done), Outcome::Ok(false), std::nullopt);
    return 0;
  }
  const WaitId id = next_id_++;
  Waiter& waiter = waiters_[id];
  waiter.session = request.caller.session;
  waiter.done = std::move(request.done);
  if (deadline.has_value()) {
    waiter.timer = timers_->Schedule(*deadline, [this, id] { Expire(id); });
  }
  return id;
}

void SemaphoreObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;  // Granted or cancelled first.
  // The running timer is this one: nothing to cancel.
  settle.Complete(std::move(it->second.done), Outcome::Ok(false), std::nullopt);
  waiters_.erase(it);
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
  while (value_ > 0 && !waiters_.empty()) {
    auto it = waiters_.begin();
    --value_;
    ++held_[it->second.session];
    settle.Complete(std::move(it->second.done), Outcome::Ok(true), it->second.timer);
    waiters_.erase(it);
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
  return static_cast<int64_t>(waiters_.size());
}

void SemaphoreObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  settle.Complete(std::move(it->second.done),
                  Outcome::Error(absl::CancelledError("the wait was cancelled")), it->second.timer);
  waiters_.erase(it);
}

void SemaphoreObject::EndSession(SessionId session) {
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
  auto held = held_.find(session);
  if (held == held_.end()) return;
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
  for (const auto& [id, waiter] : waiters_) ++waiting[waiter.session];
  holdings.waiting = CountPairs(waiting);
  return holdings;
}

}  // namespace shoal::server
