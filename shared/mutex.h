// shoal's locks exist so that ThreadSanitizer can see them. The tests run
// under TSan, but Debian's Abseil is not built with -fsanitize=thread: the
// lock and unlock of absl::Mutex happen in uninstrumented code (atomics and
// futexes in mutex.cc), so TSan sees none of the ordering they create and
// reports a race on every correctly locked access. shoal's code therefore
// names its locks shoal::Mutex, shoal::MutexLock, shoal::ReaderMutexLock,
// shoal::Condition and shoal::Notification. In a normal build these are plain
// aliases of Abseil's types: no cost, same behaviour. In a TSan build they are
// the std_sync classes below, built on std::shared_mutex and
// std::condition_variable_any, whose pthread calls TSan intercepts.
//
// Both sets carry Clang's thread-safety attributes, so -Wthread-safety checks
// ABSL_GUARDED_BY and the other annotations in every build. std_sync offers
// only the part of Abseil's API that shoal uses; code that reaches further
// compiles in a normal build and fails in a TSan build, so extend std_sync
// first. It is compiled in every build and tested by shared_test, so that it
// cannot rot between sanitizer runs.
#ifndef SHOAL_SHARED_MUTEX_H_
#define SHOAL_SHARED_MUTEX_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#if defined(__SANITIZE_THREAD__)
#define SHOAL_MUTEX_FOR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHOAL_MUTEX_FOR_TSAN 1
#endif
#endif

namespace shoal {
namespace std_sync {

namespace internal {
// Keeps T out of deduction in Condition's method constructors, so that the
// method may be declared in a base class of T (as absl::Condition allows).
template <typename T>
struct Identity {
  using type = T;
};
}  // namespace internal

// A predicate that Mutex::Await evaluates with the mutex held. Built the ways
// absl::Condition is: from a pointer to a bool, from an object and one of its
// bool methods, or from a pointer to a callable such as a lambda. What it
// points to must outlive it.
class Condition {
 public:
  explicit Condition(const bool* cond) : eval_([cond] { return *cond; }) {}

  template <typename T>
  Condition(T* object, bool (internal::Identity<T>::type::*method)())
      : eval_([object, method] { return (object->*method)(); }) {}

  template <typename T>
  Condition(const T* object, bool (internal::Identity<T>::type::*method)() const)
      : eval_([object, method] { return (object->*method)(); }) {}

  // The call goes through a member pointer, as in absl::Condition, so that a
  // lambda annotated ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) is accepted here: the
  // analysis cannot see that Await evaluates it with mu held.
  template <typename T, typename = decltype(static_cast<bool (T::*)() const>(&T::operator()))>
  explicit Condition(const T* callable)
      : Condition(callable, static_cast<bool (T::*)() const>(&T::operator())) {}

  bool Eval() const { return eval_(); }

 private:
  std::function<bool()> eval_;
};

// A reader-writer mutex with Abseil's Await. Every release wakes the threads
// in Await so that they re-check their conditions, which gives Await the
// meaning it has in Abseil: it returns once its condition holds, whoever made
// it true, without any explicit signal.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { LockExclusive(); }
  // The waiters are woken before the mutex is released, not after: once it
  // is released another thread may take it and destroy it (as an object
  // that deletes itself does), so Unlock must not touch it any more. They
  // re-check their conditions as soon as they get the mutex.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    changed_.notify_all();
    UnlockExclusive();
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() {
    changed_.notify_all();
    mu_.unlock_shared();
  }

  // Aborts unless the calling thread holds the mutex exclusively.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
    if (writer_.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
      std::fprintf(stderr, "shoal::Mutex::AssertHeld: the thread does not hold the mutex\n");
      std::abort();
    }
  }
  // Tells the analysis the mutex is held in some mode. Not checked: who holds
  // a shared lock is not recorded.
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}

  // With the mutex held in either mode: releases it until cond holds, then
  // returns holding it in the same mode again.
  void Await(const Condition& cond) { Wait(cond, std::nullopt); }

  // Like Await, but gives up once timeout has passed; returns whether cond
  // holds on return.
  bool AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
    if (timeout == absl::InfiniteDuration()) {
      Wait(cond, std::nullopt);
      return true;
    }
    // Bounded so that the deadline cannot overflow the steady clock.
    timeout = std::clamp(timeout, absl::ZeroDuration(), absl::Hours(24 * 365 * 100));
    return Wait(cond, std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout));
  }

 private:
  // The mutex as condition_variable_any locks and unlocks it around a wait,
  // in the mode its caller holds it. Unlocking here does not notify: the
  // waiter has done so before it waits (see Wait), and condition_variable_any
  // holds its own lock, which notify_all takes, while it calls unlock.
  class HeldAs {
   public:
    HeldAs(Mutex& mutex, bool exclusive) : mutex_(mutex), exclusive_(exclusive) {}
    void lock() {
      if (exclusive_) {
        mutex_.LockExclusive();
      } else {
        mutex_.mu_.lock_shared();
      }
    }
    void unlock() {
      if (exclusive_) {
        mutex_.UnlockExclusive();
      } else {
        mutex_.mu_.unlock_shared();
      }
    }

   private:
    Mutex& mutex_;
    const bool exclusive_;
  };

  void LockExclusive() {
    mu_.lock();
    writer_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void UnlockExclusive() {
    writer_.store(std::thread::id(), std::memory_order_relaxed);
    mu_.unlock();
  }

  bool Wait(const Condition& cond, std::optional<std::chrono::steady_clock::time_point> deadline) {
    if (cond.Eval()) return true;
    // Only the thread that holds the mutex exclusively is recorded as its
    // writer, so any other caller holds it shared.
    HeldAs held(*this, writer_.load(std::memory_order_relaxed) == std::this_thread::get_id());
    // Waiting releases the mutex, and the caller may have changed what other
    // waiters wait for: wake them as any release does. They run once the wait
    // below has let the mutex go.
    changed_.notify_all();
    while (!cond.Eval()) {
      if (!deadline.has_value()) {
        changed_.wait(held);
      } else if (changed_.wait_until(held, *deadline) == std::cv_status::timeout) {
        return cond.Eval();
      }
    }
    return true;
  }

  friend class CondVar;

  std::shared_mutex mu_;
  // The thread holding mu_ exclusively, if any. Written only by that thread
  // with mu_ held; read by a thread comparing it with its own id, which is
  // equal only if that thread wrote it.
  std::atomic<std::thread::id> writer_{};
  std::condition_variable_any changed_;
};

// A condition variable for a Mutex held exclusively, as absl::CondVar: Wait
// releases the mutex until a Signal (or a spurious wake-up), then holds it
// again. Signal with the mutex held, so that no wake-up is lost.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) { WaitUntil(mu, std::nullopt); }
  // Whether the deadline passed (true) rather than a signal came.
  bool WaitWithDeadline(Mutex* mu, absl::Time deadline) {
    const absl::Duration left = std::clamp(deadline - absl::Now(), absl::ZeroDuration(),
                                           absl::Hours(24 * 365 * 100));
    return WaitUntil(mu, std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(left));
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  bool WaitUntil(Mutex* mu, std::optional<std::chrono::steady_clock::time_point> deadline) {
    Mutex::HeldAs held(*mu, /*exclusive=*/true);
    // Waiting releases the mutex: wake its Await waiters as a release does.
    mu->changed_.notify_all();
    if (!deadline.has_value()) {
      cv_.wait(held);
      return false;
    }
    return cv_.wait_until(held, *deadline) == std::cv_status::timeout;
  }

  std::condition_variable_any cv_;
};

// Holds a Mutex exclusively for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Holds a Mutex shared for its scope.
class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) { mu_->ReaderLock(); }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A one-shot event: Notify once, wait any number of times.
class Notification {
 public:
  Notification() = default;
  Notification(const Notification&) = delete;
  Notification& operator=(const Notification&) = delete;

  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  ABSL_MUST_USE_RESULT bool HasBeenNotified() const {
    MutexLock lock(&mu_);
    return notified_;
  }
  void WaitForNotification() const {
    MutexLock lock(&mu_);
    mu_.Await(Condition(&notified_));
  }
  // Whether it was notified before timeout passed.
  bool WaitForNotificationWithTimeout(absl::Duration timeout) const {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(Condition(&notified_), timeout);
  }

 private:
  mutable Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace std_sync

#if defined(SHOAL_MUTEX_FOR_TSAN)
using Mutex = std_sync::Mutex;
using MutexLock = std_sync::MutexLock;
using ReaderMutexLock = std_sync::ReaderMutexLock;
using Condition = std_sync::Condition;
using Notification = std_sync::Notification;
using CondVar = std_sync::CondVar;
#else
using Mutex = absl::Mutex;
using MutexLock = absl::MutexLock;
using ReaderMutexLock = absl::ReaderMutexLock;
using Condition = absl::Condition;
using Notification = absl::Notification;
using CondVar = absl::CondVar;
#endif

}  // namespace shoal

#endif  // SHOAL_SHARED_MUTEX_H_
