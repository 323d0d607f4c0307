#include "server/objects/event_object.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace shoal::server {
EventObject::EventObject(Timers* timers) : Object(Kind::kEvent), timers_(timers) {}

EventObject::~EventObject() {
  // The waiters are taken out under the mutex, so that a timer callback
  // already waiting for it finds nothing to complete; Cancel then waits that
  // callback out.
  std::map<WaitId, Waiter> waiters;
  {
    MutexLock lock(&mu_);
    waiters.swap(waiters_);
  }
  Settlement settle(timers_);
  for (auto& [id, waiter] : waiters) {
    settle.Complete(std::move(waiter.done),
                    Outcome::Error(absl::CancelledError("the Event was deleted")), waiter.timer);
  }
}

void EventObject::Set() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  set_ = true;
  for (auto& [id, waiter] : waiters_) {
    settle.Complete(std::move(waiter.done), Outcome::Ok(true), waiter.timer);
  }
  waiters_.clear();
}

void EventObject::Clear() {
  MutexLock lock(&mu_);
  set_ = false;
}

bool EventObject::IsSet() const {
  MutexLock lock(&mu_);
  return set_;
}

WaitId EventObject::Wait(WaitRequest request) {
  const std::optional<absl::Time> deadline = FiniteDeadline(request.deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (set_ || must_not_wait) {
    settle.Complete(std::move(request.done), Outcome::Ok(set_), std::nullopt);
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

void EventObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;  // Set or cancelled first.
  // The running timer is this one: nothing to cancel.
  settle.Complete(std::move(it->second.done), Outcome::Ok(false), std::nullopt);
  waiters_.erase(it);
}

void EventObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  settle.Complete(std::move(it->second.done),
                  Outcome::Error(absl::CancelledError("the wait was cancelled")), it->second.timer);
  waiters_.erase(it);
}

void EventObject::EndSession(SessionId session) {
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
}

int64_t EventObject::NWaiting() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(waiters_.size());
}

std::string EventObject::Repr() const {
  MutexLock lock(&mu_);
  if (set_) return "<Event set>";
  return absl::StrCat("<Event unset, ", waiters_.size(), " waiting>");
}

int64_t EventObject::Size() const { return 0; }

Holdings EventObject::Held() const {
  MutexLock lock(&mu_);
  SessionCounts waiting;
  for (const auto& [id, waiter] : waiters_) ++waiting[waiter.session];
  return Holdings{{}, CountPairs(waiting)};
}

}  // namespace shoal::server
