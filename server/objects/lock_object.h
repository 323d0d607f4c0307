// LockObject is the shared Lock and RLock, Python's manager.Lock() and
// manager.RLock(), held by sessions. Acquire grants the lock at once when it
// is free, and otherwise parks a waiter that a later release grants, in the
// order the waiters came (FIFO), or that its deadline, Cancel or the end of
// its session completes. An RLock is re-entrant per session: its holder
// acquires it again at once, and must release it as many times.
//
// shoal does better than Python in two ways. Every grant carries a fencing
// token, a number that grows with each grant of this lock, so a holder that
// was presumed dead (its session ended, the lock went to another) is told
// apart from the current holder by whatever it writes to. And a session that
// ends gives back the lock it holds, to the next waiter.
//
// A Lock is released by the session holding it; Python lets any thread
// release a Lock, which shoal offers as an explicit option
// (any_session_may_release).
//
// Thread-safety: every public method is safe to call from any thread. The
// parked acquirers are a WaiterList under the object's mutex: which event
// completes one (grant, deadline, Cancel, session end) is decided under it,
// so each is completed exactly once (see waiter_list.h) and a grant is never
// lost or given twice. Completions run after the mutex is released, on the
// thread that made the decision (the releaser's, the timer thread, ...), and
// nothing touches the object once they start, so a completion may call back
// into it or drop the last reference to it.
#ifndef SHOAL_SERVER_OBJECTS_LOCK_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_LOCK_OBJECT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "server/objects/object.h"
#include "server/objects/waiter_list.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

class LockObject : public Object {
 public:
  // What Describe reports.
  struct Description {
    // The session holding the lock; unset when it is free.
    std::optional<SessionId> holder;
    // How many times the holder acquired it without releasing it: 0 when
    // free, 1 for a held Lock, 1 or more for a held RLock.
    int64_t recursion_count = 0;
    // How many callers are parked waiting for it.
    int64_t waiting = 0;
    // The fencing token of the latest grant; 0 before the first.
    int64_t last_fencing_token = 0;
  };

  // A free Lock (kind kLock) or RLock (kind kRLock; any other kind is a
  // programming error). timers must outlive the object. With
  // any_session_may_release, a Lock may be released by any session, as
  // Python's Lock may be by any thread; it has no effect on an RLock.
  LockObject(Kind kind, Timers* timers, bool any_session_may_release = false);
  // Cancels the timers of parked waiters and completes those waiters with
  // CancelledError, so that no call is left without an answer.
  ~LockObject() override;

  // lock.acquire(blocking, timeout). Completes with True and a new fencing
  // token when the lock is granted: at once if it is free (or, for an RLock,
  // already held by the caller's session: then the recursion count grows and
  // the token stays the same), or later when a release hands it over. A
  // caller whose deadline passes first is completed with False, as is one
  // whose deadline had passed already and found the lock taken. Returns 0
  // when it completed at once, else the id of the parked waiter.
  WaitId Acquire(WaitRequest request);
  // lock.release(). A release that frees the lock grants it to the oldest
  // waiter. Errors, changing nothing:
  //   Lock: RuntimeError "release unlocked lock" when free, and "cannot
  //     release a lock held by another session" when held by another session
  //     (unless any_session_may_release).
  //   RLock: RuntimeError "cannot release un-acquired lock" unless held by
  //     the caller's session.
  absl::Status Release(Caller caller);
  // lock.locked()
  bool Locked() const;
  // Completes the parked waiter id with CancelledError (its caller is gone);
  // a no-op when it was completed already. A cancelled waiter is never
  // granted the lock.
  void Cancel(WaitId id);
  // The state, for inspection.
  Description Describe() const;

  // For ConditionObject, which mirrors Python's Condition on its lock's
  // _is_owned, _release_save and _acquire_restore.
  //
  // Whether the caller may release the lock now: its session holds it, or it
  // is a held Lock that any session may release.
  bool IsOwned(Caller caller) const;
  // When IsOwned(caller): calls before_release(count) with the recursion
  // count (1 for a Lock), then, if it returned true, releases the lock fully,
  // granting it to the oldest waiter; returns true either way. Otherwise
  // returns false and changes nothing. before_release runs under the lock's
  // mutex, so that nothing can take the lock between the check and what it
  // does; it must not call into this lock, nor run completions.
  bool ReleaseSave(Caller caller, absl::FunctionRef<bool(int64_t count)> before_release);
  // Acquires the lock for caller's session with the given recursion count
  // (1 for a Lock), with no deadline, as a new grant (a new fencing token),
  // and completes done with True then. It waits its turn behind the waiters
  // already parked even when the caller's session holds the RLock. Returns 0
  // when done ran at once, else the waiter's id (for Cancel).
  WaitId AcquireRestore(Caller caller, int64_t count, Completion done);
  // Adds to counts, per session, the parked Acquires: the callers waiting to
  // take the lock, not the AcquireRestores of condition waiters taking it
  // back (which their condition counts as its own).
  void CountAcquires(SessionCounts& counts) const;

  // Object:
  // <Lock unlocked>, <Lock locked by session 3, 2 waiting>,
  // <RLock locked by session 3, count 2, 0 waiting>
  std::string Repr() const override;
  int64_t Size() const override;  // 0: a lock holds no values.
  // Completes the session's parked waiters with CancelledError, then, if the
  // session holds the lock (at any recursion count), frees it and grants it
  // to the oldest remaining waiter.
  void EndSession(SessionId session) override;
  // The holder with its recursion count (1 for a Lock), and the parked
  // acquires of each session (AcquireRestore's included).
  Holdings Held() const override;

 private:
  // What a parked acquirer holds once granted: count, the recursion count
  // (1 for an Acquire, the saved count for an AcquireRestore); and whether
  // it came from AcquireRestore.
  struct Acquirer {
    int64_t count = 1;
    bool restore = false;
  };

  // Grants the lock at once, or parks a waiter; shared by Acquire and
  // AcquireRestore. A restore is always a new grant: it never re-enters.
  WaitId AcquireWithCount(Caller caller, int64_t count, bool restore,
                          std::optional<absl::Time> deadline, Completion done);
  // The timer callback of waiter id: completes it with False, unless it was
  // completed first.
  void Expire(WaitId id);
  // Marks the lock free.
  void Free() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the lock is free, grants it to the oldest waiter, if any.
  void GrantNext(Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsOwnedLocked(SessionId session) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const bool reentrant_;
  const bool any_session_may_release_;
  Timers* const timers_;
  mutable Mutex mu_;
  std::optional<SessionId> holder_ ABSL_GUARDED_BY(mu_);
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_token_ ABSL_GUARDED_BY(mu_) = 0;
  // Invariant: there are waiters only while the lock is held.
  WaiterList<Acquirer> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_LOCK_OBJECT_H_
