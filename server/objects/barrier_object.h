// BarrierObject is the shared Barrier, Python's manager.Barrier(parties,
// timeout): parties callers Wait, and once the last of them arrives all of
// them go on together, each with its arrival index (0 for the first to arrive
// in the pass, parties - 1 for the last, which trips the barrier); then the
// next pass begins. No thread waits: an arrival that is not the last parks a
// waiter record and returns its WaitId, and the last arrival completes them.
//
// A deadline that passes (the request's, or else the default timeout), an
// Abort(), or a Reset() while parties wait breaks the pass: every parked
// party gets BrokenBarrierError, the one whose deadline passed included.
// After a timeout or an abort the barrier stays broken, and every Wait fails
// at once, until Reset(); a reset leaves it unbroken. Where Python counts a
// dead party as waiting for ever, shoal breaks the barrier when a waiting
// party is cancelled or its session ends: the remaining parties could never
// trip it correctly, so they get BrokenBarrierError at once and the one gone
// gets CancelledError.
//
// Thread-safety: every public method is safe to call from any thread. The
// parked parties are a WaiterList under the object's mutex, which completes
// each exactly once (see waiter_list.h); completions run after the mutex is
// released, and nothing touches the object once they start, so a completion
// may call back into it or drop the last reference to it.
#ifndef SHOAL_SERVER_OBJECTS_BARRIER_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_BARRIER_OBJECT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/objects/object.h"
#include "server/objects/waiter_list.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

class BarrierObject : public Object {
 public:
  // Barrier(parties, timeout=default_timeout). ValueError when parties < 1.
  // timers must outlive the barrier.
  static absl::StatusOr<std::unique_ptr<BarrierObject>> Create(
      int64_t parties, std::optional<absl::Duration> default_timeout, Timers* timers);
  // Cancels the timers of parked waiters and completes those waiters with
  // CancelledError, so that no call is left without an answer.
  ~BarrierObject() override;

  // barrier.wait(timeout): completes with the caller's arrival index (an int)
  // once all parties have arrived, or with BrokenBarrierError. A request
  // without a deadline waits until now + the default timeout, when the
  // barrier has one. The last arrival completes at once, as does an arrival
  // at a broken barrier; an arrival whose deadline has passed already, and
  // which is not the last, breaks the barrier at once. Returns 0 when it
  // completed at once.
  WaitId Wait(WaitRequest request);
  // barrier.reset(): parked parties get BrokenBarrierError, and the barrier
  // starts a fresh, unbroken pass.
  void Reset();
  // barrier.abort(): breaks the barrier; parked parties get
  // BrokenBarrierError.
  void Abort();
  // Completes the parked party id with CancelledError and breaks the barrier
  // for the others; a no-op when it was completed already.
  void Cancel(WaitId id);

  // barrier.parties
  int64_t Parties() const { return parties_; }
  // barrier.n_waiting: parties parked in the current pass.
  int64_t NWaiting() const;
  // barrier.broken
  bool Broken() const;

  // Object:
  std::string Repr() const override;  // <Barrier 2/3 waiting>, <Barrier broken, 0/3 waiting>
  int64_t Size() const override;      // 0: a Barrier holds no values.
  // A session's parked parties get CancelledError and the barrier breaks for
  // the others, as with Cancel.
  void EndSession(SessionId session) override;
  // Nobody holds a Barrier; the parties of each session parked in the
  // current pass.
  Holdings Held() const override;

 private:
  // A parked party's arrival index in its pass.
  struct Party {
    int64_t index = 0;
  };

  BarrierObject(int64_t parties, std::optional<absl::Duration> default_timeout, Timers* timers);

  // The timer callback of party id: breaks the barrier, unless something
  // else completed the party first.
  void Expire(WaitId id);
  // Breaks the barrier: it is broken, and every parked party gets
  // BrokenBarrierError with why.
  void BreakLocked(absl::string_view why, Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t parties_;
  const std::optional<absl::Duration> default_timeout_;
  Timers* const timers_;
  mutable Mutex mu_;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  // The parties parked in the current pass; its size is the next arrival's
  // index.
  WaiterList<Party> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_BARRIER_OBJECT_H_
