#include "server/objects/queue_object.h"

#include <algorithm>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

// Python's queue.Empty and queue.Full carry no message.
Outcome EmptyOutcome() { return Outcome::Error(MakeError(ErrorKind::kEmpty, "")); }
Outcome FullOutcome() { return Outcome::Error(MakeError(ErrorKind::kFull, "")); }
// Nor does Python 3.13's queue.ShutDown.
Outcome ShutDownOutcome() { return Outcome::Error(MakeError(ErrorKind::kShutDown, "")); }

// The id tags of the three lists of parked calls.
constexpr WaitIdTag kGetterTag = 1;
constexpr WaitIdTag kPutterTag = 2;
constexpr WaitIdTag kJoinerTag = 3;

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
    : Object(kind),
      maxsize_(maxsize),
      timers_(timers),
      account_(budget) {}

QueueObject::Parked::Parked(QueueObject* queue)
    : getters(queue->timers_, kGetterTag, [queue](WaitId id) { queue->Expire(id); }),
      putters(queue->timers_, kPutterTag, [queue](WaitId id) { queue->Expire(id); }),
      joiners(queue->timers_, kJoinerTag, [queue](WaitId id) { queue->Expire(id); }) {}

QueueObject::Parked& QueueObject::ParkedLocked() {
  if (parked_ == nullptr) parked_ = std::make_unique<Parked>(this);
  return *parked_;
}

QueueObject::~QueueObject() {
  const Outcome deleted =
      Outcome::Error(absl::CancelledError(absl::StrCat("the ", KindName(kind()), " was deleted")));
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  ForEachListLocked([&](auto& list) { list.CompleteAll(deleted, settle); });
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
  if (parked_ == nullptr) return;
  WaiterList<Putter>& putters = parked_->putters;
  while (!FullLocked()) {
    auto* putter = putters.Oldest();
    if (putter == nullptr) return;
    // The budget may have shrunk since the putter parked; then this putter
    // fails and the next one gets its chance.
    absl::Status stored = StoreLocked(std::move(putter->payload.item));
    if (stored.ok()) {
      ++unfinished_;
      putters.CompleteOldest(Outcome::Ok(Value()), settle);
    } else {
      putters.CompleteOldest(Outcome::Error(std::move(stored)), settle);
    }
  }
}

void QueueObject::ReleaseJoinersLocked(Settlement& settle) {
  if (unfinished_ == 0 && parked_ != nullptr) {
    parked_->joiners.CompleteAll(Outcome::Ok(Value()), settle);
  }
}

WaitId QueueObject::Put(WaitRequest request, Value item) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (shutdown_) {
    settle.CompleteNow(std::move(request.done), ShutDownOutcome());
    return 0;
  }
  if (parked_ != nullptr && !parked_->getters.empty()) {
    // Getters wait only while the queue is empty, so the oldest one is next
    // in line for this item: it goes straight there and is never stored.
    parked_->getters.CompleteOldest(Outcome::Ok(std::move(item)), settle);
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
  return ParkedLocked().putters.Park(request.caller, request.deadline, std::move(request.done),
                                     settle, Putter{std::move(item)});
}

WaitId QueueObject::Get(WaitRequest request) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!items_.empty()) {
    Value item = items_.pop_front();
    account_.Release(ApproxBytes(item));
    settle.CompleteNow(std::move(request.done), Outcome::Ok(std::move(item)));
    AdmitPuttersLocked(settle);
    return 0;
  }
  if (shutdown_) {
    settle.CompleteNow(std::move(request.done), ShutDownOutcome());
    return 0;
  }
  if (must_not_wait) {
    settle.CompleteNow(std::move(request.done), EmptyOutcome());
    return 0;
  }
  return ParkedLocked().getters.Park(request.caller, request.deadline, std::move(request.done),
                                     settle);
}

WaitId QueueObject::Join(WaitRequest request) {
  const bool must_not_wait = DeadlinePassed(request.deadline, *timers_);
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
  return ParkedLocked().joiners.Park(request.caller, request.deadline, std::move(request.done),
                                     settle);
}

absl::Status QueueObject::TaskDone() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (unfinished_ <= 0) return error::ValueError("task_done() called too many times");
  --unfinished_;
  ReleaseJoinersLocked(settle);
  return absl::OkStatus();
}

void QueueObject::Shutdown(bool immediate) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  shutdown_ = true;
  if (immediate) {
    // Each dropped item counts as done, as in Python: the ones that were
    // taken and are still being processed keep join waiting.
    const int64_t dropped = static_cast<int64_t>(items_.size());
    items_.clear();
    account_.ReleaseAll();
    unfinished_ -= std::min(unfinished_, dropped);
    ReleaseJoinersLocked(settle);
  }
  // Getters park only on an empty queue, so every one of them is done for.
  if (parked_ != nullptr) {
    parked_->getters.CompleteAll(ShutDownOutcome(), settle);
    parked_->putters.CompleteAll(ShutDownOutcome(), settle);
  }
}

bool QueueObject::IsShutdown() const {
  MutexLock lock(&mu_);
  return shutdown_;
}

void QueueObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  // A timer is set only for a parked call, once the lists are made.
  if (parked_ == nullptr) return;
  if (HasWaitIdTag(id, kGetterTag)) {
    parked_->getters.CompleteExpired(id, EmptyOutcome(), settle);
  } else if (HasWaitIdTag(id, kPutterTag)) {
    parked_->putters.CompleteExpired(id, FullOutcome(), settle);
  } else {
    parked_->joiners.CompleteExpired(id, Outcome::Ok(false), settle);
  }
}

void QueueObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  // Ids are unique across the three lists: at most one holds id.
  ForEachListLocked([&](auto& list) { list.Complete(id, WaitCancelled(), settle); });
}

void QueueObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  ForEachListLocked([&](auto& list) { list.CompleteSession(session, SessionEnded(), settle); });
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
  return parked_ == nullptr ? 0 : parked_->getters.size();
}

int64_t QueueObject::NPutters() const {
  MutexLock lock(&mu_);
  return parked_ == nullptr ? 0 : parked_->putters.size();
}

int64_t QueueObject::NJoiners() const {
  MutexLock lock(&mu_);
  return parked_ == nullptr ? 0 : parked_->joiners.size();
}

std::string QueueObject::Repr() const {
  MutexLock lock(&mu_);
  return absl::StrCat("<", KindName(kind()), " ", items_.size(), " items, maxsize=", maxsize_,
                      shutdown_ ? ", shutdown>" : ">");
}

int64_t QueueObject::Size() const { return QSize(); }

Holdings QueueObject::Held() const {
  MutexLock lock(&mu_);
  SessionCounts waiting;
  ForEachListLocked([&](const auto& list) { list.CountSessions(waiting); });
  return Holdings{{}, CountPairs(waiting)};
}

void QueueObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  MutexLock lock(&mu_);
  items_.ForEach([&fn](const Value& item) { item.ForEachRef(fn); });
  if (parked_ == nullptr) return;
  parked_->putters.ForEach([&fn](const auto& putter) { putter.payload.item.ForEachRef(fn); });
}

}  // namespace shoal::server
