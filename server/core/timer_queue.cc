#include "server/core/timer_queue.h"

#include <utility>

namespace shoal::server {

TimerQueue::TimerQueue() : thread_(&TimerQueue::Run, this) {}

TimerQueue::~TimerQueue() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Time TimerQueue::Now() { return absl::Now(); }

Timers::TimerId TimerQueue::Schedule(absl::Time when, std::function<void()> fn) {
  MutexLock lock(&mu_);
  const TimerId id = next_id_++;
  due_.emplace(Key(when, id), std::move(fn));
  deadlines_.emplace(id, when);
  // The timer thread re-examines the queue when the mutex is released (see
  // NextDue), so a new earliest timer shortens its sleep.
  return id;
}

void TimerQueue::Cancel(TimerId id) {
  std::function<void()> dropped;  // Destroyed after the mutex is released.
  MutexLock lock(&mu_);
  auto it = deadlines_.find(id);
  if (it != deadlines_.end()) {
    auto entry = due_.find(Key(it->second, id));
    dropped = std::move(entry->second);
    due_.erase(entry);
    deadlines_.erase(it);
    return;
  }
  // The timer thread cannot wait for its own callback to return.
  if (std::this_thread::get_id() == thread_.get_id()) return;
  auto finished = [this, id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ != id; };
  mu_.Await(Condition(&finished));
}

size_t TimerQueue::pending() const {
  MutexLock lock(&mu_);
  return due_.size();
}

bool TimerQueue::NextDue(std::function<void()>* fn) {
  for (;;) {
    if (stopping_) return false;
    if (due_.empty()) {
      auto any = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !due_.empty(); };
      mu_.Await(Condition(&any));
      continue;
    }
    const Key first = due_.begin()->first;
    if (first.first > absl::Now()) {
      // Sleeps until the earliest timer is due, or a timer is scheduled ahead
      // of it, or the queue stops. Cancelling the earliest timer wakes
      // nothing: a parked call answered before its timeout cancels its timer
      // (often the earliest), and waking this thread for each would cost more
      // than the one early wake-up it saves.
      auto earlier = [this, first]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (!due_.empty() && due_.begin()->first.first < first.first);
      };
      mu_.AwaitWithTimeout(Condition(&earlier), first.first - absl::Now());
      continue;
    }
    auto entry = due_.begin();
    *fn = std::move(entry->second);
    running_ = entry->first.second;
    deadlines_.erase(entry->first.second);
    due_.erase(entry);
    return true;
  }
}

void TimerQueue::Run() {
  for (;;) {
    std::function<void()> fn;
    {
      MutexLock lock(&mu_);
      if (!NextDue(&fn)) return;
    }
    fn();
    // fn and what it captured are destroyed before the callback counts as
    // finished, so that Cancel's guarantee covers the destructors too.
    fn = nullptr;
    MutexLock lock(&mu_);
    running_ = 0;
  }
}

}  // namespace shoal::server
