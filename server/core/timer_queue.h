// TimerQueue is the server's Timers: one thread that runs every scheduled
// callback at its deadline, in deadline order (timers with the same deadline
// run in the order they were scheduled), on the absl::Now() clock. The
// objects use it for the deadlines of parked waiters, so a thousand timed
// waits cost one thread, not a thousand.
//
// Thread-safety: Schedule, Cancel and Now are safe to call from any thread,
// the timer thread included (a callback may schedule or cancel timers).
// Callbacks run one at a time on the timer thread, never under the queue's
// mutex, so a callback may take any lock. A callback that runs long delays
// the timers behind it: callbacks should only complete calls.
//
// Cancel(id) guarantees that on return the callback of id is not running and
// will not run, except when called from the timer thread itself (a callback
// cancelling its own timer, or an object destroyed from within a callback):
// then it does not wait, since the thread cannot wait for itself.
#ifndef SHOAL_SERVER_CORE_TIMER_QUEUE_H_
#define SHOAL_SERVER_CORE_TIMER_QUEUE_H_

#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"

namespace shoal::server {

class TimerQueue : public Timers {
 public:
  // Starts the timer thread.
  TimerQueue();
  // Stops the timer thread, after the callback now running (if any) returns;
  // timers still pending are dropped without running. Must not be called
  // from a callback.
  ~TimerQueue() override;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // absl::Now().
  absl::Time Now() override;
  // Runs fn on the timer thread at when (at once if when has passed) unless
  // cancelled first. Ids are never reused.
  TimerId Schedule(absl::Time when, std::function<void()> fn) override;
  // Drops a pending timer; waits for its callback to return if it is running
  // on the timer thread (unless called from that thread). A no-op for a timer
  // that has run or was cancelled.
  void Cancel(TimerId id) override;

  // Timers scheduled and neither run, started nor cancelled.
  size_t pending() const;

 private:
  using Key = std::pair<absl::Time, TimerId>;

  // The timer thread's loop.
  void Run();
  // Waits until the earliest timer is due or the queue stops. Moves the due
  // callback into fn, marks it running, and returns true; false when stopping.
  bool NextDue(std::function<void()>* fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  // Pending timers in the order they run.
  std::map<Key, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  // The deadline of every pending timer, to find it by id.
  absl::flat_hash_map<TimerId, absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
  TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // The timer whose callback runs now; 0 when none does.
  TimerId running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Declared last: the thread starts once everything it uses is initialized.
  std::thread thread_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_TIMER_QUEUE_H_
