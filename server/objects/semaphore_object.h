// SemaphoreObject is the shared Semaphore and BoundedSemaphore, Python's
// manager.Semaphore(value) and manager.BoundedSemaphore(value): a counter of
// permits. Acquire takes a permit at once when there is one, and otherwise
// parks a waiter; Release adds permits and hands them to the waiters in the
// order they came (FIFO). A BoundedSemaphore refuses a release that would
// raise the counter above its initial value.
//
// The semaphore counts which session holds how many permits: the permits a
// session acquired minus those it released (never below 0), for the
// listings. What happens to them when the session ends is chosen at
// creation (release_at_session_end):
//   - released, waking waiters: a resource pool, where a worker that dies
//     inside a semaphore-guarded section must not leak its permit. A
//     BoundedSemaphore never takes back past its initial value.
//   - kept, as in Python, where a semaphore has no owner: a signal counter
//     (one session releases, another acquires and never releases), where a
//     consumer whose session ends must not hand its signals out again.
// By default a BoundedSemaphore releases them and a Semaphore keeps them
// (DefaultReleaseAtSessionEnd; docs/protocol.md argues the choice).
//
// Thread-safety: every public method is safe to call from any thread. The
// parked acquirers are a WaiterList under the object's mutex: which event
// completes one (grant, deadline, Cancel, session end) is decided under it,
// so each is completed exactly once (see waiter_list.h) and a permit is
// never lost or given twice. Completions run after the mutex is released,
// and nothing touches the object once they start, so a completion may drop
// the last reference to it.
#ifndef SHOAL_SERVER_OBJECTS_SEMAPHORE_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_SEMAPHORE_OBJECT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/object.h"
#include "server/objects/waiter_list.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

class SemaphoreObject : public Object {
 public:
  // Whether the permits of a session that ends are released when creation
  // does not say: true for a BoundedSemaphore (a pool), false for a
  // Semaphore (Python's: permits never come back by themselves).
  static bool DefaultReleaseAtSessionEnd(Kind kind) { return kind == Kind::kBoundedSemaphore; }

  // A Semaphore (kind kSemaphore) or BoundedSemaphore (kBoundedSemaphore)
  // holding value permits, which releases the permits a session holds when
  // it ends if release_at_session_end (unset: DefaultReleaseAtSessionEnd).
  // ValueError "semaphore initial value must be >= 0" when value is
  // negative; InvalidArgument for another kind. timers must outlive the
  // object.
  static absl::StatusOr<std::unique_ptr<SemaphoreObject>> Create(
      Kind kind, int64_t value, Timers* timers,
      std::optional<bool> release_at_session_end = std::nullopt);

  // As Create, for arguments already checked.
  SemaphoreObject(Kind kind, int64_t value, Timers* timers, bool release_at_session_end);
  // Cancels the timers of parked waiters and completes those waiters with
  // CancelledError, so that no call is left without an answer.
  ~SemaphoreObject() override;

  // sem.acquire(blocking, timeout). Completes with True when a permit is
  // taken: at once if there is one, or later when a release hands one over.
  // A caller whose deadline passes first is completed with False, as is one
  // whose deadline had passed already and found no permit. Returns 0 when it
  // completed at once, else the id of the parked waiter.
  WaitId Acquire(WaitRequest request);
  // sem.release(n): adds n permits, waking up to n waiters, oldest first.
  // Errors, changing nothing: ValueError "n must be one or more" when n < 1;
  // for a BoundedSemaphore, ValueError "Semaphore released too many times"
  // when the counter would exceed the initial value; ValueError "semaphore
  // value too large" when it would overflow int64.
  absl::Status Release(Caller caller, int64_t n = 1);
  // The permits available now (Python's sem._value).
  int64_t Value() const;
  // The value the semaphore was created with.
  int64_t InitialValue() const { return initial_value_; }
  // Whether a session's permits are released when it ends.
  bool ReleasesAtSessionEnd() const { return release_at_session_end_; }
  // How many permits session holds: acquired minus released, never below 0.
  int64_t HeldBy(SessionId session) const;
  // How many callers are parked waiting for a permit.
  int64_t NWaiting() const;
  // Completes the parked waiter id with CancelledError (its caller is gone);
  // a no-op when it was completed already. A cancelled waiter never gets a
  // permit.
  void Cancel(WaitId id);

  // Object:
  // <Semaphore value=2, 0 waiting>, <BoundedSemaphore value=0/3, 1 waiting>
  std::string Repr() const override;
  int64_t Size() const override;  // 0: a semaphore holds no values.
  // Completes the session's parked waiters with CancelledError, then, if
  // the semaphore releases at session end, gives back the permits the
  // session holds, waking waiters; else the session's permits stay taken.
  void EndSession(SessionId session) override;
  // The permits each session holds (HeldBy), and the parked acquires of each
  // session.
  Holdings Held() const override;

 private:
  // The timer callback of waiter id: completes it with False, unless it was
  // completed first.
  void Expire(WaitId id);
  // Hands available permits to the oldest waiters.
  void GrantWaiters(Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const bool bounded_;
  const int64_t initial_value_;
  const bool release_at_session_end_;
  Timers* const timers_;
  mutable Mutex mu_;
  // Invariant: there are waiters only while value_ is 0.
  int64_t value_ ABSL_GUARDED_BY(mu_);
  // The permits each session holds; sessions holding none are absent.
  absl::flat_hash_map<SessionId, int64_t> held_ ABSL_GUARDED_BY(mu_);
  WaiterList<> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_SEMAPHORE_OBJECT_H_
