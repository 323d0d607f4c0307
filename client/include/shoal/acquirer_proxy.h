// The proxies of the kinds that are acquired and released: Lock, RLock,
// Semaphore and BoundedSemaphore (and Condition, through its lock), after
// Python's AcquirerProxy. They meet the C++ Lockable and TimedLockable
// requirements, so std::lock_guard, std::unique_lock, std::scoped_lock and
// try_lock_for work on them.
//
// Ownership is per session, that is per Manager connection: every thread that
// uses proxies from one Manager acts as the same owner (an RLock held through
// one is re-entered by the others). Give each thread its own Manager where
// threads must exclude one another.
//
// A session that ends (closed, crashed, its stream lost past the server's
// grace) gives back the locks it holds: the next waiter is granted the lock.
// A semaphore gives back that session's permits only if it was made to
// (SemaphoreOptions::release_at_session_end; by default a BoundedSemaphore
// does and a Semaphore does not).
//
// Thread-safety: a proxy may be used from several threads at once.
#ifndef SHOAL_ACQUIRER_PROXY_H_
#define SHOAL_ACQUIRER_PROXY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

// How long a call may wait, as Python's timeout=: std::nullopt waits as long
// as it takes; a duration waits at most that long (zero or less: not at all).
// Any std::chrono duration converts: lock.acquire(true, 250ms).
using Timeout = std::optional<std::chrono::duration<double>>;

class AcquirerProxy : public ObjectProxy {
 public:
  // acquire(blocking=True, timeout=None): true once acquired; false when
  // blocking is false and it is taken, or when the timeout passed first.
  // ValueError, with nothing sent, when blocking is false and a timeout is
  // given, as in Python.
  bool acquire(bool blocking = true, Timeout timeout = std::nullopt);
  // release(). RuntimeError when the caller's session does not hold it (a
  // Lock made with LockOptions::any_session_may_release may be released by
  // any session).
  void release();

  // The fencing token of the latest successful acquire made through this
  // proxy or its copies (0 before the first): it grows with every grant of
  // the lock, so a resource that remembers the largest token it has seen can
  // turn away a holder whose lock has since been given to another. Semaphores
  // have none (0).
  int64_t fencing_token() const { return token_->load(std::memory_order_acquire); }

  // Lockable and TimedLockable.
  void lock() { acquire(true); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire(true, std::chrono::duration<double>(timeout));
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return try_lock_for(deadline - Clock::now());
  }

 protected:
  explicit AcquirerProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
  AcquirerProxy(const Value& value, Kind kind, Kind other_kind = Kind::kUnspecified)
      : ObjectProxy(value, kind, other_kind) {}

 private:
  std::shared_ptr<std::atomic<int64_t>> token_ = std::make_shared<std::atomic<int64_t>>(0);
};

// manager.Lock(): not re-entrant; FIFO among waiters.
class LockProxy : public AcquirerProxy {
 public:
  static constexpr Kind kKind = Kind::kLock;
  explicit LockProxy(const Value& value) : AcquirerProxy(value, kKind) {}
  // lock.locked(): whether any session holds it.
  bool locked() const;

 private:
  friend class detail::ProxyAccess;
  explicit LockProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : AcquirerProxy(std::move(handle)) {}
};

// manager.RLock(): re-entrant per session; released as many times as acquired.
class RLockProxy : public AcquirerProxy {
 public:
  static constexpr Kind kKind = Kind::kRLock;
  explicit RLockProxy(const Value& value) : AcquirerProxy(value, kKind) {}
  // Whether any session holds it.
  bool locked() const;

 private:
  friend class detail::ProxyAccess;
  explicit RLockProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : AcquirerProxy(std::move(handle)) {}
};

// manager.Semaphore(value) and manager.BoundedSemaphore(value).
class SemaphoreProxy : public AcquirerProxy {
 public:
  static constexpr Kind kKind = Kind::kSemaphore;
  static constexpr Kind kOtherKind = Kind::kBoundedSemaphore;
  explicit SemaphoreProxy(const Value& value) : AcquirerProxy(value, kKind, kOtherKind) {}
  // sem.release(n): gives back n permits. A BoundedSemaphore throws
  // ValueError ("Semaphore released too many times") past its initial value,
  // and changes nothing then.
  void release(int64_t n = 1);
  // The permits free now.
  int64_t value() const;
  bool bounded() const { return kind() == Kind::kBoundedSemaphore; }

 private:
  friend class detail::ProxyAccess;
  explicit SemaphoreProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : AcquirerProxy(std::move(handle)) {}
};

}  // namespace shoal

#endif  // SHOAL_ACQUIRER_PROXY_H_
