#include "server/objects/barrier_object.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

absl::Status BrokenError(absl::string_view why) {
  return MakeError(ErrorKind::kBrokenBarrierError, why);
}

}  // namespace

absl::StatusOr<std::unique_ptr<BarrierObject>> BarrierObject::Create(
    int64_t parties, std::optional<absl::Duration> default_timeout, Timers* timers) {
  if (parties < 1) return error::ValueError("parties must be >= 1");
  return absl::WrapUnique(new BarrierObject(parties, default_timeout, timers));
}

BarrierObject::BarrierObject(int64_t parties, std::optional<absl::Duration> default_timeout,
                             Timers* timers)
    : Object(Kind::kBarrier),
      parties_(parties),
      default_timeout_(default_timeout),
      timers_(timers) {}

BarrierObject::~BarrierObject() {
  // The parties are taken out under the mutex, so that a timer callback
  // already waiting for it finds nothing to complete; Cancel then waits that
  // callback out.
  std::map<WaitId, Party> waiting;
  {
    MutexLock lock(&mu_);
    waiting.swap(waiting_);
  }
  Settlement settle(timers_);
  for (auto& [id, party] : waiting) {
    settle.Complete(std::move(party.done),
                    Outcome::Error(absl::CancelledError("the Barrier was deleted")), party.timer);
  }
}

void BarrierObject::FailAllLocked(const absl::Status& status, Settlement& settle) {
  for (auto& [id, party] : waiting_) {
    settle.Complete(std::move(party.done), Outcome::Error(status), party.timer);
  }
  waiting_.clear();
}

WaitId BarrierObject::Wait(WaitRequest request) {
  std::optional<absl::Time> deadline = request.deadline;
  if (!deadline.has_value() && default_timeout_.has_value()) {
    deadline = timers_->Now() + *default_timeout_;
  }
  deadline = FiniteDeadline(deadline);
  const bool must_not_wait = deadline.has_value() && *deadline <= timers_->Now();

  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (broken_) {
    settle.Complete(std::move(request.done), Outcome::Error(BrokenError("the barrier is broken")),
                    std::nullopt);
    return 0;
  }
  const int64_t index = static_cast<int64_t>(waiting_.size());
  if (index + 1 == parties_) {
    // The last arrival trips the barrier: everyone goes on, and the next
    // arrival starts a new pass at index 0.
    for (auto& [id, party] : waiting_) {
      settle.Complete(std::move(party.done), Outcome::Ok(Value(party.index)), party.timer);
    }
    waiting_.clear();
    settle.Complete(std::move(request.done), Outcome::Ok(Value(index)), std::nullopt);
    return 0;
  }
  if (must_not_wait) {
    // Python's wait(timeout=0) by a party that is not the last: the wait
    // times out at once, which breaks the barrier for everyone.
    broken_ = true;
    const absl::Status status = BrokenError("a party's wait timed out");
    FailAllLocked(status, settle);
    settle.Complete(std::move(request.done), Outcome::Error(status), std::nullopt);
    return 0;
  }
  const WaitId id = next_id_++;
  Party& party = waiting_[id];
  party.session = request.caller.session;
  party.index = index;
  party.done = std::move(request.done);
  if (deadline.has_value()) {
    party.timer = timers_->Schedule(*deadline, [this, id] { Expire(id); });
  }
  return id;
}

void BarrierObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;  // Tripped, reset or cancelled first.
  // The running timer is this one: nothing to cancel.
  it->second.timer.reset();
  broken_ = true;
  FailAllLocked(BrokenError("a party's wait timed out"), settle);
}

void BarrierObject::Reset() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  FailAllLocked(BrokenError("the barrier was reset"), settle);
  broken_ = false;
}

void BarrierObject::Abort() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  broken_ = true;
  FailAllLocked(BrokenError("the barrier was aborted"), settle);
}

void BarrierObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  settle.Complete(std::move(it->second.done),
                  Outcome::Error(absl::CancelledError("the wait was cancelled")), it->second.timer);
  waiting_.erase(it);
  broken_ = true;
  FailAllLocked(BrokenError("a waiting party was cancelled"), settle);
}

void BarrierObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  bool left = false;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.session != session) {
      ++it;
      continue;
    }
    settle.Complete(std::move(it->second.done),
                    Outcome::Error(absl::CancelledError("the session ended")), it->second.timer);
    it = waiting_.erase(it);
    left = true;
  }
  if (!left) return;
  broken_ = true;
  FailAllLocked(BrokenError("a waiting party's session ended"), settle);
}

int64_t BarrierObject::NWaiting() const {
  MutexLock lock(&mu_);
  return static_cast<int64_t>(waiting_.size());
}

bool BarrierObject::Broken() const {
  MutexLock lock(&mu_);
  return broken_;
}

std::string BarrierObject::Repr() const {
  MutexLock lock(&mu_);
  return absl::StrCat("<Barrier ", broken_ ? "broken, " : "", waiting_.size(), "/", parties_,
                      " waiting>");
}

int64_t BarrierObject::Size() const { return 0; }

Holdings BarrierObject::Held() const {
  MutexLock lock(&mu_);
  SessionCounts waiting;
  for (const auto& [id, party] : waiting_) ++waiting[party.session];
  return Holdings{{}, CountPairs(waiting)};
}

}  // namespace shoal::server
