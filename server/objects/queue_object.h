// QueueObject is the shared Queue and JoinableQueue, Python's manager.Queue()
// and manager.JoinableQueue(): a FIFO of Values, bounded by maxsize when
// maxsize > 0. No thread waits: a Get on an empty queue parks a getter, a Put
// on a full one parks a putter with its item, and Join parks a joiner; each
// returns its WaitId. A Put hands its item straight to the oldest parked
// getter; a Get that makes room admits the oldest parked putter's item; the
// last TaskDone completes the joiners. A deadline is a timer that completes
// its waiter with Empty (getter), Full (putter) or False (joiner); Cancel and
// EndSession complete a waiter with CancelledError.
//
// An item is never lost and never delivered twice: who receives it is decided
// under the mutex, and a getter that timed out, was cancelled or whose session
// ended is removed in the same step that completes it, so it takes nothing; a
// putter completed that way never adds its item.
//
// Both kinds count unfinished tasks, as Python's queue.Queue (which backs
// both manager.Queue() and manager.JoinableQueue()) does: every item accepted
// by a Put counts one, TaskDone takes one off, and Join waits for zero.
//
// Shutdown is Python 3.13's Queue.shutdown: for good, a Put fails with
// ShutDown, and so does a Get once the queue is empty; the parked putters and
// getters complete with ShutDown at once (a putter's item is not added). An
// immediate shutdown drops the items held, counting each as done, so that
// joiners waiting for those alone complete.
//
// Items held in the queue are charged to the MemoryBudget: a Put that does
// not fit fails with LimitError and changes nothing. An item handed straight
// to a getter is never held, so it is not charged; a parked putter's item is
// charged when it is admitted into the queue (and if it no longer fits then,
// that putter gets LimitError and the next one is tried).
//
// Thread-safety: every public method is safe to call from any thread. The
// parked getters, putters and joiners are three WaiterLists under the
// object's mutex, which complete each waiter exactly once (see
// waiter_list.h); completions run after the mutex is released, and nothing
// touches the object once they start, so a completion may call back into it
// or drop the last reference to it.
#ifndef SHOAL_SERVER_OBJECTS_QUEUE_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_QUEUE_OBJECT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/objects/budget_account.h"
#include "server/objects/memory_budget.h"
#include "server/objects/object.h"
#include "server/objects/waiter_list.h"
#include "server/objects/waiting.h"
#include "shared/mutex.h"
#include "shoal/value.h"

namespace shoal::server {

// A queue's items, oldest first: a std::deque, whose blocks (512 bytes) let
// a long queue grow and drain without moving what it holds. It is made on
// the first put, since a deque allocates its map and a first block when it
// is made, and held by pointer, since the deque itself takes 80 bytes: a
// queue never put to holds 8. Once made it stays: drained or cleared, it
// keeps one block, so a queue whose items fit in a block allocates nothing
// as it empties and fills again.
class QueueItems {
 public:
  size_t size() const { return items_ != nullptr ? items_->size() : 0; }
  bool empty() const { return size() == 0; }
  void push_back(Value item) {
    if (items_ == nullptr) items_ = std::make_unique<std::deque<Value>>();
    items_->push_back(std::move(item));
  }
  // The oldest item, taken out; the queue must not be empty.
  Value pop_front() {
    Value item = std::move(items_->front());
    items_->pop_front();
    return item;
  }
  void clear() {
    if (items_ != nullptr) items_->clear();
  }
  template <class F>
  void ForEach(F&& f) const {
    if (items_ == nullptr) return;
    for (const Value& item : *items_) f(item);
  }

 private:
  std::unique_ptr<std::deque<Value>> items_;
};

class QueueObject : public Object {
 public:
  // Queue(maxsize) when kind is kQueue, JoinableQueue(maxsize) when it is
  // kJoinableQueue (ValueError for any other kind). maxsize <= 0 means
  // unbounded. budget (null: unlimited) and timers must outlive the queue.
  static absl::StatusOr<std::unique_ptr<QueueObject>> Create(Kind kind, int64_t maxsize,
                                                             MemoryBudget* budget, Timers* timers);
  // Cancels the timers of parked waiters and completes those waiters with
  // CancelledError, so that no call is left without an answer.
  ~QueueObject() override;

  // q.put(item, block, timeout): completes with None once the item is in the
  // queue or handed to a getter; with Full when the queue is full and the
  // deadline has passed (at once when it already has: put_nowait); with
  // LimitError when the item does not fit the memory budget; with ShutDown,
  // before any other check, when the queue is shut down, or when it is shut
  // down while the put waits. Returns 0 when it completed at once.
  WaitId Put(WaitRequest request, Value item);
  // q.get(block, timeout): completes with the oldest item, or with Empty when
  // the queue is empty and the deadline has passed (at once when it already
  // has: get_nowait); with ShutDown when the queue is shut down and empty,
  // or when it is shut down while the get waits. Returns 0 when it completed
  // at once.
  WaitId Get(WaitRequest request);
  // q.join(): completes with None once every accepted item is done (at once
  // when that is already so), or with False when the deadline passes first
  // (Python's join has no timeout; this one does). Returns 0 when it
  // completed at once.
  WaitId Join(WaitRequest request);
  // q.task_done(). ValueError "task_done() called too many times" when no
  // task is unfinished.
  absl::Status TaskDone();
  // q.shutdown(immediate): see the class comment. May be called again; an
  // immediate shutdown then drops what the queue still holds.
  void Shutdown(bool immediate);
  // q.is_shutdown
  bool IsShutdown() const;
  // Completes the parked waiter id (getter, putter or joiner) with
  // CancelledError; a no-op when it was completed already. A cancelled
  // putter's item is dropped.
  void Cancel(WaitId id);

  // q.qsize(): items in the queue, not counting parked putters' items.
  int64_t QSize() const;
  // q.empty()
  bool Empty() const;
  // q.full(): maxsize > 0 and qsize >= maxsize.
  bool Full() const;
  // q.maxsize, as given at creation.
  int64_t MaxSize() const { return maxsize_; }
  // q.unfinished_tasks
  int64_t UnfinishedTasks() const;
  // Parked waiters of each sort.
  int64_t NGetters() const;
  int64_t NPutters() const;
  int64_t NJoiners() const;

  // Object:
  // <Queue 3 items, maxsize=10>; <Queue 0 items, maxsize=0, shutdown> once
  // shut down.
  std::string Repr() const override;
  int64_t Size() const override;      // qsize
  // Visits the queued items and the parked putters' items. Calls fn under
  // the queue's mutex: fn must not call back into this queue.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;
  // Completes the session's parked getters, putters and joiners with
  // CancelledError; its putters' items are dropped.
  void EndSession(SessionId session) override;
  // Nobody holds a queue; the parked getters, putters and joiners of each
  // session, counted together.
  Holdings Held() const override;

 private:
  // A parked putter's item, held until it is admitted into the queue.
  struct Putter {
    Value item;
  };
  // Getters wait only while the queue's items are empty and putters only
  // while it is full, and neither once it is shut down: whoever changes that
  // completes them in the same step. Each list has its own id tag, so an id
  // names one waiter of one list.
  struct Parked {
    explicit Parked(QueueObject* queue);
    // Calls fn with each list of parked (a Parked or a const one).
    template <typename P, typename Fn>
    static void ForEachList(P& parked, Fn&& fn) {
      fn(parked.getters);
      fn(parked.putters);
      fn(parked.joiners);
    }

    WaiterList<> getters;
    WaiterList<Putter> putters;
    WaiterList<> joiners;
  };

  QueueObject(Kind kind, int64_t maxsize, MemoryBudget* budget, Timers* timers);

  bool FullLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Stores item at the back, charging it to the budget first; LimitError
  // changes nothing.
  absl::Status StoreLocked(Value item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Admits the oldest parked putters' items while there is room.
  void AdmitPuttersLocked(Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes every parked joiner with None, once no task is unfinished.
  void ReleaseJoinersLocked(Settlement& settle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The timer callback of waiter id (of any of the three lists): completes
  // it with Empty, Full or False, unless something else completed it first.
  void Expire(WaitId id);
  // The parked calls' lists, made on first use.
  Parked& ParkedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls fn with each list of parked calls, if any was ever made.
  template <typename Fn>
  void ForEachListLocked(Fn&& fn) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (parked_ != nullptr) Parked::ForEachList(std::as_const(*parked_), fn);
  }
  template <typename Fn>
  void ForEachListLocked(Fn&& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (parked_ != nullptr) Parked::ForEachList(*parked_, fn);
  }

  const int64_t maxsize_;
  Timers* const timers_;
  mutable Mutex mu_;
  QueueItems items_ ABSL_GUARDED_BY(mu_);
  // Holds exactly the sum of ApproxBytes over items_.
  BudgetAccount account_ ABSL_GUARDED_BY(mu_);
  int64_t unfinished_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // The calls parked on the queue, made when a call first comes to park:
  // the three lists take some 290 bytes, which a queue nobody waits on need
  // not hold. Once made, they stay.
  std::unique_ptr<Parked> parked_ ABSL_GUARDED_BY(mu_) ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_QUEUE_OBJECT_H_
