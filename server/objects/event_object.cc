#include "server/objects/event_object.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shoal::server {

EventObject::EventObject(Timers* timers)
    : Object(Kind::kEvent), timers_(timers), waiters_(timers, [this](WaitId id) { Expire(id); }) {}

EventObject::~EventObject() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteAll(Outcome::Error(absl::CancelledError("the Event was deleted")), settle);
}

void EventObject::Set() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  set_ = true;
  waiters_.CompleteAll(Outcome::Ok(true), settle);
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
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (set_ || must_not_wait) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(set_));
    return 0;
  }
  return waiters_.Park(request.caller, request.deadline, std::move(request.done), settle);
}

void EventObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteExpired(id, Outcome::Ok(false), settle);
}

void EventObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.Complete(id, WaitCancelled(), settle);
}

void EventObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiters_.CompleteSession(session, SessionEnded(), settle);
}

int64_t EventObject::NWaiting() const {
  MutexLock lock(&mu_);
  return waiters_.size();
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
  waiters_.CountSessions(waiting);
  return Holdings{{}, CountPairs(waiting)};
}

}  // namespace shoal::server
