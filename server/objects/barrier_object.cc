#include "server/objects/barrier_object.h"

#include <optional>
#include <utility>

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
      timers_(timers),
      waiting_(timers, [this](WaitId id) { Expire(id); }) {}

BarrierObject::~BarrierObject() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  waiting_.CompleteAll(Outcome::Error(absl::CancelledError("the Barrier was deleted")), settle);
}

void BarrierObject::BreakLocked(absl::string_view why, Settlement& settle) {
  broken_ = true;
  waiting_.CompleteAll(Outcome::Error(BrokenError(why)), settle);
}

WaitId BarrierObject::Wait(WaitRequest request) {
  std::optional<absl::Time> deadline = request.deadline;
  if (!deadline.has_value() && default_timeout_.has_value()) {
    deadline = timers_->Now() + *default_timeout_;
  }
  const bool must_not_wait = DeadlinePassed(deadline, *timers_);

  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (broken_) {
    settle.CompleteNow(std::move(request.done),
                       Outcome::Error(BrokenError("the barrier is broken")));
    return 0;
  }
  const int64_t index = waiting_.size();
  if (index + 1 == parties_) {
    // The last arrival trips the barrier: everyone goes on, and the next
    // arrival starts a new pass at index 0.
    while (const auto* party = waiting_.Oldest()) {
      waiting_.CompleteOldest(Outcome::Ok(Value(party->payload.index)), settle);
    }
    settle.CompleteNow(std::move(request.done), Outcome::Ok(Value(index)));
    return 0;
  }
  if (must_not_wait) {
    // Python's wait(timeout=0) by a party that is not the last: the wait
    // times out at once, which breaks the barrier for everyone.
    const char* const why = "a party's wait timed out";
    BreakLocked(why, settle);
    settle.CompleteNow(std::move(request.done), Outcome::Error(BrokenError(why)));
    return 0;
  }
  return waiting_.Park(request.caller, deadline, std::move(request.done), settle, Party{index});
}

void BarrierObject::Expire(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  const char* const why = "a party's wait timed out";
  // Unless tripped, reset or cancelled first, the party whose deadline
  // passed fails with the others.
  if (!waiting_.CompleteExpired(id, Outcome::Error(BrokenError(why)), settle)) return;
  BreakLocked(why, settle);
}

void BarrierObject::Reset() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  BreakLocked("the barrier was reset", settle);
  broken_ = false;
}

void BarrierObject::Abort() {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  BreakLocked("the barrier was aborted", settle);
}

void BarrierObject::Cancel(WaitId id) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (!waiting_.Complete(id, WaitCancelled(), settle)) return;
  BreakLocked("a waiting party was cancelled", settle);
}

void BarrierObject::EndSession(SessionId session) {
  Settlement settle(timers_);
  MutexLock lock(&mu_);
  if (waiting_.CompleteSession(session, SessionEnded(), settle) == 0) return;
  BreakLocked("a waiting party's session ended", settle);
}

int64_t BarrierObject::NWaiting() const {
  MutexLock lock(&mu_);
  return waiting_.size();
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
  waiting_.CountSessions(waiting);
  return Holdings{{}, CountPairs(waiting)};
}

}  // namespace shoal::server
