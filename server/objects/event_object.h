// EventObject is the shared Event, Python's manager.Event(): a flag that
// Set() raises and Clear() lowers, and that Wait() waits for. No thread
// waits: a Wait on a lowered flag parks a waiter record and returns its
// WaitId; Set() completes every parked waiter with True; a waiter's deadline
// is a timer that completes it with False (Python's wait(timeout) returns the
// flag, which is still false then); Cancel and EndSession complete a waiter
// with CancelledError because its caller is gone.
//
// Thread-safety: every public method is safe to call from any thread. The
// parked waiters are a WaiterList under the object's mutex, which completes
// each exactly once (see waiter_list.h); completions run after the mutex is
// released, and nothing touches the object once they start, so a completion
// may call back into it or drop the last reference to it.
#ifndef SHOAL_SERVER_OBJECTS_EVENT_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_EVENT_OBJECT_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "server/objects/object.h"
#include "server/objects/waiter_list.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

class EventObject : public Object {
 public:
  // A lowered Event. timers must outlive it.
  explicit EventObject(Timers* timers);
  // Cancels the timers of parked waiters and completes those waiters with
  // CancelledError, so that no call is left without an answer.
  ~EventObject() override;

  // event.set(): raises the flag and completes every parked waiter with True.
  void Set();
  // event.clear(): lowers the flag. Parked waiters keep waiting.
  void Clear();
  // event.is_set()
  bool IsSet() const;
  // event.wait(timeout): True at once when the flag is raised; False at once
  // when the deadline has passed already; otherwise parks until Set (True)
  // or the deadline (False). Returns 0 when it completed at once.
  WaitId Wait(WaitRequest request);
  // Completes the parked waiter id with CancelledError; a no-op when it was
  // completed already.
  void Cancel(WaitId id);
  // How many waiters are parked.
  int64_t NWaiting() const;

  // Object:
  std::string Repr() const override;  // <Event set>, <Event unset, 2 waiting>
  int64_t Size() const override;      // 0: an Event holds no values.
  // Completes the session's parked waiters with CancelledError.
  void EndSession(SessionId session) override;
  // Nobody holds an Event; the parked waits of each session.
  Holdings Held() const override;

 private:
  // The timer callback of waiter id: completes it with False, unless
  // something else completed it first.
  void Expire(WaitId id);

  Timers* const timers_;
  mutable Mutex mu_;
  bool set_ ABSL_GUARDED_BY(mu_) = false;
  WaiterList<> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_EVENT_OBJECT_H_
