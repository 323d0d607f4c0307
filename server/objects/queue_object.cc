#include "server/objects/queue_object.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// Python's queue.Empty and queue.Full carry no message.
Outcome EmptyOutcome() { return Outcome::Error(MakeError(ErrorKind::kEmpty, "")); }
Outcome FullOutcome() { return Outcome::Error(MakeError(ErrorKind::kFull, "")); }

}  // namespace

absl::StatusOr<std::unique_ptr<QueueObject>> QueueObject::Create(Kind kind, int64_t maxsize,
                                                                 MemoryBudget* budget,
                                                                 Timers* timers) {
  if (kind != Kind::kQueue && kind != Kind::kJoinableQueue) {
    return error::ValueError(
        absl::StrCat("a queue is a Queue or a JoinableQueue, not a ", KindName(kind)));
  }
  return absl::WrapUnique(new QueueObject(kind, maxsize, budget, timers));
}

QueueObject::QueueObject(Kind kind, int64_t maxsize, MemoryBudget* budget, Timers* timers)
    : Object(kind), maxsize_(maxsize), timers_(timers), account_(budget) {}

QueueObject::~QueueObject() {
  // The waiters are taken out under the mutex, so that a timer callback
  // already waiting for it finds nothing to complete; Cancel then waits that
  // callback out.
  std::map<WaitId, Waiter> getters;
  std::map<WaitId, Waiter> putters;
  std::map<WaitId, Waiter> joiners;
  {
    MutexLock lock(&mu_);
    getters.swap(getters_);
    putters.swap(putters_);
    joiners.swap(joiners_);
  }
  Settlement settle(timers_);
  for (auto* waiters : {&getters, &putters, &joiners}) {
    for (auto& [id, waiter] : *waiters) {
      settle.Complete(std::move(waiter.done),
                      Outcome::Error(absl::CancelledError(
                          absl::StrCat("the ", KindName(kind()), " was deleted"))),
                      waiter.timer);
    }
  }
}

bool QueueObject::FullLocked() const {
  return maxsize_ > 0 && static_cast<int64_t>(items_.size()) >= maxsize_;
}

absl::Status QueueObject::StoreLocked(Value item) {
  absl::Status reserved = account_.Reserve(ApproxBytes(item));
  if (!reserved.ok()) return reserved;
  if (item.contains_ref()) MarkMayHoldRefs();
  items_.push_back(std::move(item));
  return absl::OkStatus();
}

void QueueObject::AdmitPuttersLocked(Settlement& settle) {
  while (!putters_.empty() && !FullLocked()) {
    auto oldest = putters_.begin();
    Waiter& putter = oldest->second;
    // The budget may have shrunk since the putter parked; then this putter
    // fails and the next one gets its chance.
    absl::Status stored = StoreLocked(std::move(putter.item));
    if (stored.ok()) {
      ++unfinished_;
      settle.Complete(std::move(putter.done), Outcome::Ok(Value()), putter.timer);
    } else {
      settle.Complete(std::move(putter.done), Outcome::Error(std::move(stored)), putter.timer);
    }
    putters_.erase(oldest);
  }
}

void QueueObject::ReleaseJoinersLocked(Settlement& settle) {
  if (unfinished_ != 0) return;
  for (auto& [id, joiner] : joiners_) {
    settle.Complete(std::move(joiner.done), Outcome::Ok(Value()), joiner.timer);
  }
  joiners_.clear();
}

WaitId QueueObject::ParkLocked(std::map<WaitId, Waiter>& waiters, SessionId session,
                               Completion done, std::optional<absl::Time> deadline, Value item) {
  const WaitId id = next_id_++;
  Waiter& waiter = waiters[id];
  waiter.session = session;
  waiter.done = std::move(done);
  waiter.item = std::move(item);
  if (deadline.has_value()) {
    waiter.timer = timers_->Schedule(*deadline, [this, id] { Expire(id); });
  }
  return id;
}

WaitId QueueObject::Put(WaitRequest request, Value item) {
  const std::optional<absl::Time> deadline = FiniteDeadline(request.deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!getters_.empty()) {
    // Getters wait only while the queue is empty, so the oldest one is next
    // in line for this item: it goes straight there and is never stored.
    auto oldest = getters_.begin();
    settle.Complete(std::move(oldest->second.done), Outcome::Ok(std::move(item)),
                    oldest->second.timer);
    getters_.erase(oldest);
    ++unfinished_;
    settle.CompleteNow(std::move(request.done), Outcome::Ok(Value()));
    return 0;
  }
  if (!FullLocked()) {
    absl::Status stored = StoreLocked(std::move(item));
    if (stored.ok()) {
      ++unfinished_;
      settle.CompleteNow(std::move(request.done), Outcome::Ok(Value()));
    } else {
      settle.CompleteNow(std::move(request.done), Outcome::Error(std::move(stored)));
    }
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done), FullOutcome());
    return 0;
  }
  // The parked item is held here too, and ForEachRef visits it.
  if (item.contains_ref()) MarkMayHoldRefs();
  return ParkLocked(putters_, request.caller.session, std::move(request.done), deadline,
                    std::move(item));
}

WaitId QueueObject::Get(WaitRequest request) {
  const std::optional<absl::Time> deadline = FiniteDeadline(request.deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!items_.empty()) {
    Value item = std::move(items_.front());
    items_.pop_front();
    account_.Release(ApproxBytes(item));
    settle.CompleteNow(std::move(request.done), Outcome::Ok(std::move(item)));
    AdmitPuttersLocked(settle);
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done), EmptyOutcome());
    return 0;
  }
  return ParkLocked(getters_, request.caller.session, std::move(request.done), deadline, Value());
}

WaitId QueueObject::Join(WaitRequest request) {
  const std::optional<absl::Time> deadline = FiniteDeadline(request.deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (unfinished_ == 0) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(Value()));
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done), Outcome::Ok(false));
    return 0;
  }
  return ParkLocked(joiners_, request.caller.session, std::move(request.done), deadline, Value());
}

absl::Status QueueObject::TaskDone() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (unfinished_ <= 0) return error::ValueError("task_done() called too many times");
  --unfinished_;
  ReleaseJoinersLocked(settle);
  return absl::OkStatus();
}

void QueueObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  // The running timer is this one: nothing to cancel.
  if (auto getter = getters_.find(id); getter != getters_.end()) {
    settle.CompleteNow(std::move(getter->second.done), EmptyOutcome());
    getters_.erase(getter);
  } else if (auto putter = putters_.find(id); putter != putters_.end()) {
    settle.CompleteNow(std::move(putter->second.done), FullOutcome());
    putters_.erase(putter);
  } else if (auto joiner = joiners_.find(id); joiner != joiners_.end()) {
    settle.CompleteNow(std::move(joiner->second.done), Outcome::Ok(false));
    joiners_.erase(joiner);
  }
  // Otherwise something else completed it first.
}

void QueueObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  for (auto* waiters : {&getters_, &putters_, &joiners_}) {
    auto it = waiters->find(id);
    if (it == waiters->end()) continue;
    settle.Complete(std::move(it->second.done),
                    Outcome::Error(absl::CancelledError("the wait was cancelled")),
                    it->second.timer);
    waiters->erase(it);
    return;
  }
}

void QueueObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  for (auto* waiters : {&getters_, &putters_, &joiners_}) {
    for (auto it = waiters->begin(); it != waiters->end();) {
      if (it->second.session != session) {
        ++it;
        continue;
      }
      settle.Complete(std::move(it->second.done),
                      Outcome::Error(absl::CancelledError("the session ended")), it->second.timer);
      it = waiters->erase(it);
    }
  }
}

int64_t QueueObject::QSize() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(items_.size());
}

bool QueueObject::Empty() const {
  MutexLock lock(&mu_);
  return items_.empty();
}

bool QueueObject::Full() const {
  MutexLock lock(&mu_);
  return FullLocked();
}

int64_t QueueObject::UnfinishedTasks() const {
  MutexLock lock(&mu_);
  return unfinished_;
}

int64_t QueueObject::NGetters() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(getters_.size());
}

int64_t QueueObject::NPutters() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(putters_.size());
}

int64_t QueueObject::NJoiners() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(joiners_.size());
}

std::string QueueObject::Repr() const {
  MutexLock lock(&mu_);
  return absl::StrCat("<", KindName(kind()), " ", items_.size(), " items, maxsize=", maxsize_, ">");
}

int64_t QueueObject::Size() const { return QSize(); }

Holdings QueueObject::Held() const {
  MutexLock lock(&mu_);
  SessionCounts waiting;
  for (const auto* waiters : {&getters_, &putters_, &joiners_}) {
    for (const auto& [id, waiter] : *waiters) ++waiting[waiter.session];
  }
  return Holdings{{}, CountPairs(waiting)};
}

void QueueObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  for (const Value& item : items_) item.ForEachRef(fn);
  for (const auto& [id, putter] : putters_) putter.item.ForEachRef(fn);
}

}  // namespace shoal::server
