// ConditionProxy is manager.Condition(lock): a condition variable over a
// shared Lock or RLock. acquire/release (and the Lockable members) act on
// that lock. wait() releases the lock, waits for a notify, and holds the lock
// again when it returns, whatever ended the wait. No server thread waits.
//
// Thread-safety: a proxy may be used from several threads at once; the lock
// is owned per session (see acquirer_proxy.h).
#ifndef SHOAL_CONDITION_PROXY_H_
#define SHOAL_CONDITION_PROXY_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "shoal/acquirer_proxy.h"

namespace shoal {

class ConditionProxy : public AcquirerProxy {
 public:
  static constexpr Kind kKind = Kind::kCondition;
  explicit ConditionProxy(const Value& value) : AcquirerProxy(value, kKind) {}

  // cond.wait(timeout): true when notified, false when the timeout passed.
  // RuntimeError without the lock.
  bool wait(Timeout timeout = std::nullopt);
  // cond.wait_for(predicate, timeout): waits until predicate() is true, or
  // the timeout passes; returns the predicate's last value. The lock must be
  // held; predicate runs with it held.
  template <class Predicate>
  bool wait_for(Predicate predicate, Timeout timeout = std::nullopt) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    bool result = predicate();
    while (!result) {
      Timeout left = timeout;
      if (timeout.has_value()) {
        left = *timeout - std::chrono::duration<double>(Clock::now() - start);
        if (left->count() <= 0) break;
      }
      wait(left);
      result = predicate();
    }
    return result;
  }
  // cond.notify(n): wakes up to n waiters. RuntimeError without the lock.
  void notify(int64_t n = 1);
  // cond.notify_all()
  void notify_all();

 private:
  friend class detail::ProxyAccess;
  explicit ConditionProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : AcquirerProxy(std::move(handle)) {}
};

}  // namespace shoal

#endif  // SHOAL_CONDITION_PROXY_H_
