// WaiterList holds the calls parked on one synchronization object (see
// waiting.h), in the order they came, and is the one place that completes
// them: the object decides which waiter an event completes and with what
// Outcome, and the list takes that waiter out and hands its Completion to the
// caller's Settlement in the same step. Each waiter carries a Payload, what
// its kind needs to know about it (the item of a Queue putter, the recursion
// count of an RLock acquirer, a Barrier party's index); the mechanics are the
// same for every kind.
//
// Each waiter is completed exactly once, because:
//   - its Completion and its timer live in the list only: no member hands
//     them out, and the Waiter an object sees (id, session, payload) carries
//     neither;
//   - every member that removes a waiter (Complete, CompleteExpired,
//     CompleteOldest, CompleteSession, CompleteAll) gives its Completion to a
//     Settlement as it removes it, and nothing else removes one;
//   - a Park refused by the caller's limits parks nothing: it hands the
//     Completion, with the LimitError, to the Settlement at once;
//   - the removal happens under the owner's mutex, so of two events racing
//     for a waiter (a grant and its deadline, a Cancel and the end of its
//     session) the second finds it gone and completes nothing;
//   - the owner empties the list before it goes (CompleteAll in its
//     destructor); in a debug build the list checks that it is empty when
//     destroyed.
// The same holds for a waiter's ParkingPermit (parking_limits.h), its charge
// against the server's limits on parked calls: it lives in the waiter's entry
// only, so it is given back, once, when the waiter leaves the list.
// A waiter's timer is cancelled by the Settlement, after the owner's mutex
// is released (Timers::Cancel waits out a running timer callback, which
// takes that mutex), before any completion runs; the timer that fires is
// not cancelled, as it is the one running.
//
// Thread-safety: a WaiterList has no mutex of its own. It is a member of its
// object, guarded by the object's mutex (ABSL_GUARDED_BY), and each of its
// members is called with that mutex held. A timer that fires calls the
// object's deadline handler with no lock held, and does not touch the list;
// the handler takes the object's mutex and calls CompleteExpired, which
// does nothing if something completed the waiter first.
#ifndef SHOAL_SERVER_OBJECTS_WAITER_LIST_H_
#define SHOAL_SERVER_OBJECTS_WAITER_LIST_H_

#include <cassert>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/objects/object.h"
#include "server/objects/parking_limits.h"
#include "server/objects/waiting.h"

namespace shoal::server {

// The payload of waiters whose kind needs nothing but the waiter itself.
struct NoPayload {};

// A list's ids carry its tag in their top byte, so that an object with
// several lists (a Queue), or one that also hands out another object's ids
// (a Condition, its lock's), knows whose an id is. Ids are never 0.
using WaitIdTag = uint8_t;
inline constexpr int kWaitIdTagShift = 56;
inline constexpr bool HasWaitIdTag(WaitId id, WaitIdTag tag) {
  return (id >> kWaitIdTagShift) == tag;
}

// How a waiter ends when its caller goes away: Cancel, or its session ended.
inline Outcome WaitCancelled() {
  return Outcome::Error(absl::CancelledError("the wait was cancelled"));
}
inline Outcome SessionEnded() { return Outcome::Error(absl::CancelledError("the session ended")); }

template <typename Payload = NoPayload>
class WaiterList {
 public:
  // What an object sees of a parked waiter.
  struct Waiter {
    const WaitId id;
    const SessionId session;
    Payload payload;
  };

  // Called on the timer thread, with no lock held, when the deadline of the
  // waiter id comes; the waiter may have been completed meanwhile. Each
  // timer holds a copy, so that a timer never reads the list, which its
  // handler's completions may free.
  using DeadlineHandler = std::function<void(WaitId id)>;

  // timers must outlive the list; on_deadline is the object's expiry. The
  // ids carry tag.
  WaiterList(Timers* timers, WaitIdTag tag, DeadlineHandler on_deadline)
      : timers_(timers),
        on_deadline_(std::move(on_deadline)),
        next_id_((WaitId{tag} << kWaitIdTagShift) | 1) {}
  // A list whose ids carry tag 0.
  WaiterList(Timers* timers, DeadlineHandler on_deadline)
      : WaiterList(timers, 0, std::move(on_deadline)) {}
  ~WaiterList() { assert(waiters_.empty() && "the owner completes every waiter before it goes"); }
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;

  // Parks a waiter of caller at the back and returns its id. A finite
  // deadline schedules a timer that calls the deadline handler with that id.
  // When caller's parking limits refuse one more parked call, nothing is
  // parked: done is completed through settle with their LimitError, and
  // Park returns 0, as for a call that completed at once.
  WaitId Park(const Caller& caller, std::optional<absl::Time> deadline, Completion done,
              Settlement& settle, Payload payload = Payload()) {
    ParkingPermit permit;
    if (caller.parking != nullptr) {
      absl::StatusOr<ParkingPermit> admitted = caller.parking->Admit(caller.session);
      if (!admitted.ok()) {
        settle.CompleteNow(std::move(done), Outcome::Error(std::move(admitted).status()));
        return 0;
      }
      permit = *std::move(admitted);
    }
    const WaitId id = next_id_++;
    std::optional<Timers::TimerId> timer;
    deadline = FiniteDeadline(deadline);
    if (deadline.has_value()) {
      timer = timers_->Schedule(*deadline, [on_deadline = on_deadline_, id] { on_deadline(id); });
    }
    waiters_.emplace(id, Entry{Waiter{id, caller.session, std::move(payload)}, std::move(done),
                               timer, std::move(permit)});
    return id;
  }
  // The id the next Park returns, for a completion that must know its own
  // waiter's id.
  WaitId NextId() const { return next_id_; }

  // The waiter id, or null when it is not parked (completed already).
  const Waiter* Find(WaitId id) const {
    auto it = waiters_.find(id);
    return it == waiters_.end() ? nullptr : &it->second.waiter;
  }
  // The oldest waiter, or null when none is parked. Its payload may be
  // changed (a putter's item moved into the queue) before it is completed.
  Waiter* Oldest() { return waiters_.empty() ? nullptr : &waiters_.begin()->second.waiter; }

  // Completes the waiter id with outcome and cancels its timer; returns
  // false, doing nothing, when it is not parked.
  bool Complete(WaitId id, Outcome outcome, Settlement& settle) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return false;
    Settle(it, std::move(outcome), settle);
    return true;
  }
  // For the deadline handler: as Complete, but leaves the waiter's timer
  // alone, since it is the one running.
  bool CompleteExpired(WaitId id, Outcome outcome, Settlement& settle) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return false;
    it->second.timer.reset();
    Settle(it, std::move(outcome), settle);
    return true;
  }
  // Completes the oldest waiter; false when none is parked.
  bool CompleteOldest(Outcome outcome, Settlement& settle) {
    if (waiters_.empty()) return false;
    Settle(waiters_.begin(), std::move(outcome), settle);
    return true;
  }
  // Completes every waiter of session, oldest first; returns how many.
  int64_t CompleteSession(SessionId session, const Outcome& outcome, Settlement& settle) {
    int64_t completed = 0;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.waiter.session != session) {
        ++it;
        continue;
      }
      it = Settle(it, outcome, settle);
      ++completed;
    }
    return completed;
  }
  // Completes every waiter, oldest first; returns how many.
  int64_t CompleteAll(const Outcome& outcome, Settlement& settle) {
    const int64_t completed = size();
    while (!waiters_.empty()) Settle(waiters_.begin(), outcome, settle);
    return completed;
  }

  int64_t size() const { return static_cast<int64_t>(waiters_.size()); }
  bool empty() const { return waiters_.empty(); }
  // Adds one to counts[session] for each parked waiter, for Held().
  void CountSessions(SessionCounts& counts) const {
    for (const auto& [id, entry] : waiters_) ++counts[entry.waiter.session];
  }
  // Calls fn(const Waiter&) for each parked waiter, oldest first.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [id, entry] : waiters_) fn(entry.waiter);
  }

 private:
  struct Entry {
    Waiter waiter;
    Completion done;
    // Set while the waiter's deadline timer may fire.
    std::optional<Timers::TimerId> timer;
    // The waiter's charge against its caller's limits, given back as the
    // entry is erased.
    ParkingPermit permit;
  };
  using Entries = std::map<WaitId, Entry>;

  // The one way out of the list: removes the waiter at it, gives its
  // completion and its timer to settle, and gives back its permit (with the
  // entry). Returns the next position.
  typename Entries::iterator Settle(typename Entries::iterator it, Outcome outcome,
                                    Settlement& settle) {
    settle.Complete(std::move(it->second.done), std::move(outcome), it->second.timer);
    return waiters_.erase(it);
  }

  Timers* const timers_;
  const DeadlineHandler on_deadline_;
  // Ids grow, so the map's order is arrival order.
  Entries waiters_;
  WaitId next_id_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_WAITER_LIST_H_
