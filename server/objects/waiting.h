// What the synchronization kinds (Lock, RLock, Semaphore, BoundedSemaphore,
// Condition, Event, Barrier, Queue, JoinableQueue) share: a call that cannot
// finish at once parks a waiter on its object and returns; no thread waits.
// Whoever changes the object's state completes the waiters it satisfies (a
// release grants the next acquirer, a put hands its item to the oldest getter,
// the last party trips a barrier); a timer completes a waiter whose deadline
// passed; Cancel completes one whose caller went away; EndSession completes
// every waiter of an ended session and gives back what that session held.
//
// Each waiter is completed exactly once, and which event completes it is
// decided under the object's mutex, so a grant is never lost or given twice,
// and an item is never handed to a caller that is gone. Completions run after
// the object's mutex is released (see CompletionBatch), because completing a
// call takes locks of its own (the session stream's, the registry's).
#ifndef SHOAL_SERVER_OBJECTS_WAITING_H_
#define SHOAL_SERVER_OBJECTS_WAITING_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "shoal/value.h"

namespace shoal::server {

using SessionId = uint64_t;

class ParkingLimits;

// Who makes a call: the session whose holdings and waits it creates, and the
// limits its parked calls count against (parking_limits.h); none when null.
struct Caller {
  SessionId session = 0;
  ParkingLimits* parking = nullptr;
};

// How a call ended. status carries the Python error kind of a failure
// (Empty, Full, BrokenBarrierError, RuntimeError, ...); otherwise value is
// the result (True/False for acquire, the item for get, the index for a
// barrier wait, ...). fencing_token is set by Lock and RLock grants.
struct Outcome {
  absl::Status status;
  Value value;
  int64_t fencing_token = 0;

  static Outcome Ok(Value value) { return Outcome{absl::OkStatus(), std::move(value), 0}; }
  static Outcome Error(absl::Status status) { return Outcome{std::move(status), Value(), 0}; }
};

// Completes one call. Runs exactly once, never under an object's mutex.
using Completion = absl::AnyInvocable<void(Outcome)>;

// A call that may wait. An unset deadline waits for ever; a deadline at or
// before now does not wait at all (Python's blocking=False, or timeout=0).
struct WaitRequest {
  Caller caller;
  std::optional<absl::Time> deadline;
  Completion done;
};

// Names a parked waiter, for Cancel. 0 means the call completed at once.
using WaitId = uint64_t;

// Timers that the objects use for deadlines. The server's core provides one
// thread for all of them; tests provide a manual clock.
class Timers {
 public:
  using TimerId = uint64_t;
  virtual ~Timers() = default;
  virtual absl::Time Now() = 0;
  // Runs fn once at (or soon after) when, on the timer thread, unless
  // cancelled first.
  virtual TimerId Schedule(absl::Time when, std::function<void()> fn) = 0;
  // Stops a timer. On return its fn is not running and will not run, unless
  // Cancel is called from within that fn; so an object may cancel its timers
  // in its destructor and be sure none fires into freed memory.
  virtual void Cancel(TimerId id) = 0;
};

// Completions gathered under an object's mutex, run once it is released:
//   CompletionBatch batch;
//   { MutexLock lock(&mu_); ...; batch.Add(std::move(w.done), outcome); }
//   batch.Run();  (or let the destructor run them)
class CompletionBatch {
 public:
  CompletionBatch() = default;
  CompletionBatch(const CompletionBatch&) = delete;
  CompletionBatch& operator=(const CompletionBatch&) = delete;
  ~CompletionBatch() { Run(); }

  void Add(Completion done, Outcome outcome) {
    pending_.emplace_back(std::move(done), std::move(outcome));
  }
  void Run() {
    std::vector<std::pair<Completion, Outcome>> now;
    now.swap(pending_);
    for (auto& [done, outcome] : now) std::move(done)(std::move(outcome));
  }

 private:
  std::vector<std::pair<Completion, Outcome>> pending_;
};

// What a call decided under an object's mutex, carried out once the mutex is
// released: declare it before the MutexLock so that it is destroyed after.
// The timers of waiters that something else completed are cancelled first
// (Timers::Cancel may wait out a running callback, which takes the mutex), so
// that none of them can fire into a freed object once a completion has
// dropped the last reference to it; then the completions run.
class Settlement {
 public:
  explicit Settlement(Timers* timers) : timers_(timers) {}
  Settlement(const Settlement&) = delete;
  Settlement& operator=(const Settlement&) = delete;
  ~Settlement() {
    for (Timers::TimerId id : timers_to_cancel_) timers_->Cancel(id);
    batch_.Run();
  }

  // Completes a parked waiter; its timer, if any, is to be cancelled.
  void Complete(Completion done, Outcome outcome, std::optional<Timers::TimerId> timer) {
    if (timer.has_value()) timers_to_cancel_.push_back(*timer);
    batch_.Add(std::move(done), std::move(outcome));
  }
  // Completes a call that did not park.
  void CompleteNow(Completion done, Outcome outcome) {
    batch_.Add(std::move(done), std::move(outcome));
  }

 private:
  Timers* const timers_;
  std::vector<Timers::TimerId> timers_to_cancel_;
  CompletionBatch batch_;
};

// An infinite deadline needs no timer: it is the same as none.
inline std::optional<absl::Time> FiniteDeadline(std::optional<absl::Time> deadline) {
  if (deadline.has_value() && *deadline == absl::InfiniteFuture()) return std::nullopt;
  return deadline;
}

// Whether a call with this deadline must not park at all: it has come
// already (Python's blocking=False, or timeout=0).
inline bool DeadlinePassed(const std::optional<absl::Time>& deadline, Timers& timers) {
  return deadline.has_value() && *deadline != absl::InfiniteFuture() && *deadline <= timers.Now();
}

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_WAITING_H_
