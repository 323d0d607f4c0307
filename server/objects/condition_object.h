// ConditionObject is the shared Condition, Python's manager.Condition(lock):
// a condition variable over a LockObject, a Lock or an RLock (its own RLock
// when none is given, as Python's default). Acquire and Release are the
// lock's. Wait, with the lock held, releases it fully (remembering an RLock's
// recursion count) and parks a waiter until Notify picks it or its deadline
// passes; either way the waiter then re-acquires the lock, behind the callers
// already waiting for it, with no deadline and its recursion count restored,
// and only then completes: True when notified, False when timed out, with the
// fencing token of the re-acquire. Python's wait_for is a loop of wait on the
// client: the server has nothing to do for it.
//
// Waiters are notified in the order they came (FIFO). Cancel and the end of
// the waiter's session complete it with CancelledError: while it waits for a
// notify, at once (it does not take the lock again, since nobody would
// release it); while it re-acquires, by cancelling its request at the lock.
//
// Thread-safety: every public method is safe to call from any thread. A
// waiter is completed exactly once: while it waits for a notify it is in the
// condition's WaiterList (see waiter_list.h), whose completion of it either
// answers the Wait (an error) or hands it on to the lock as a re-acquire
// (True or False), which the lock's own WaiterList completes once.
// Completions run with no mutex held.
// Lock order, outer first:
//   1. the LockObject's mutex: LockObject::ReleaseSave calls back into the
//      condition under it, so that parking a waiter and releasing the lock
//      are one step that no Notify can come between;
//   2. the condition's own mutex: never held while calling into the
//      LockObject (whose calls may run completions);
//   3. the Timers' internal lock (Timers::Schedule is called under 1 and 2;
//      Timers::Cancel under none, as it waits out a running timer callback,
//      which takes 2).
// The waiters' state lives in a block shared with the completions of their
// waits and re-acquires, so those completions never touch the ConditionObject
// itself and may outlive it; the lock may be shared with other holders.
#ifndef SHOAL_SERVER_OBJECTS_CONDITION_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_CONDITION_OBJECT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/objects/lock_object.h"
#include "server/objects/object.h"
#include "server/objects/waiting.h"

namespace shoal::server {

class ConditionObject : public Object {
 public:
  // A Condition over lock, a Lock or an RLock; over a new RLock of its own
  // when lock is null. timers must outlive the object.
  explicit ConditionObject(Timers* timers, std::shared_ptr<LockObject> lock = nullptr);
  // Completes every waiter with CancelledError: those waiting for a notify at
  // once, those re-acquiring by cancelling their request at the lock.
  ~ConditionObject() override;

  // The lock the condition is over.
  const std::shared_ptr<LockObject>& lock() const { return lock_; }

  // cond.acquire(blocking, timeout) and cond.release(): the lock's Acquire
  // and Release. Cancel(id) cancels an Acquire made here too.
  WaitId Acquire(WaitRequest request);
  absl::Status Release(Caller caller);

  // cond.wait(timeout). The caller must hold the lock (LockObject::IsOwned):
  // otherwise completes at once with RuntimeError "cannot wait on un-acquired
  // lock". A deadline that has passed already does not wait for a notify,
  // but still releases the lock and takes it again (False), as Python's
  // wait(0) does. Returns 0 when it completed at once, else an id for Cancel.
  WaitId Wait(WaitRequest request);
  // cond.notify(n): picks the n oldest waiters, which then re-acquire the
  // lock. RuntimeError "cannot notify on un-acquired lock" unless the caller
  // holds the lock; ValueError "n must be zero or more" when n < 0.
  absl::Status Notify(Caller caller, int64_t n = 1);
  // cond.notify_all(): picks every waiter.
  absl::Status NotifyAll(Caller caller);
  // How many callers wait for a notify (not counting those re-acquiring).
  int64_t NWaiting() const;
  // Completes the waiter id (from Wait, or from Acquire) with
  // CancelledError; a no-op when it was completed already.
  void Cancel(WaitId id);

  // Object:
  std::string Repr() const override;  // <Condition(<RLock unlocked>), 0 waiting>
  int64_t Size() const override;      // 0: a condition holds no values.
  // Completes the session's waiters with CancelledError. When the condition
  // made its own lock, also ends the session at the lock (releasing what it
  // holds); a lock given to it is the given lock's owner's to end.
  void EndSession(SessionId session) override;
  // The holder of the lock (as LockObject::Held), and the calls of each
  // session that wait: acquires parked on the lock (as Describe of a Lock
  // counts them; for a lock given to the condition, those made through the
  // lock's own proxy too, since they wait for the same lock), and the
  // condition's own waits: those waiting for a notify and those taking the
  // lock again, whose Wait has not answered yet. Each call is counted once.
  Holdings Held() const override;

 private:
  struct State;

  // The timer callback of waiter id: unless notified or cancelled first, the
  // waiter takes the lock again and then completes with False.
  void Expire(WaitId id);
  // The completion of waiter id's stay in the condition's list, which goes
  // on to answer done: an error (Cancel, the end of its session, the
  // condition's end) answers done at once; True (notified) or False (timed
  // out) asks lock back for the waiter, with its recursion count, and done
  // answers once it is granted. Touches only lock and state, not the object,
  // which a completion may have freed.
  static Completion ThenReacquire(std::shared_ptr<LockObject> lock, std::shared_ptr<State> state,
                                  WaitId id, SessionId session, int64_t count, Completion done);
  // The lock's completion of waiter id's re-acquire: answers done.
  static void FinishWait(State& state, WaitId id, bool notified, Outcome lock_outcome,
                         Completion done);

  Timers* const timers_;
  const bool owns_lock_;
  const std::shared_ptr<LockObject> lock_;
  const std::shared_ptr<State> state_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_CONDITION_OBJECT_H_
