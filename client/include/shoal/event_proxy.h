// EventProxy is manager.Event(), and BarrierProxy manager.Barrier(parties,
// timeout). A party whose session ends while it waits at a barrier breaks
// it for the others (Python counts a dead party as waiting, for ever).
//
// Thread-safety: a proxy may be used from several threads at once.
#ifndef SHOAL_EVENT_PROXY_H_
#define SHOAL_EVENT_PROXY_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "shoal/acquirer_proxy.h"
#include "shoal/proxy.h"

namespace shoal {

class EventProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kEvent;
  explicit EventProxy(const Value& value) : ObjectProxy(value, kKind) {}
  class Async;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h); a wait's Future is ready when the wait ends.
  Async async() const;
  Async async(Batch& batch) const;

  bool is_set() const;
  // Sets the flag and wakes every waiter.
  void set();
  void clear();
  // event.wait(timeout): the flag when it returns; false means the timeout
  // passed first.
  bool wait(Timeout timeout = std::nullopt) const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit EventProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// EventProxy's operations, each returning a Future of what the blocking
// method returns.
class EventProxy::Async {
 public:
  Future<bool> is_set();
  Future<void> set();
  Future<void> clear();
  Future<bool> wait(Timeout timeout = std::nullopt);

 private:
  friend class EventProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

class BarrierProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kBarrier;
  explicit BarrierProxy(const Value& value) : ObjectProxy(value, kKind) {}

  // barrier.wait(timeout): once parties callers wait, all return, each with
  // its own index in [0, parties). Without a timeout, the barrier's own
  // (given at creation) applies. BrokenBarrierError when the barrier breaks
  // (a timeout, abort(), reset() while waiting, a waiting party's session
  // ending) or is broken.
  int64_t wait(Timeout timeout = std::nullopt);
  // Back to the empty, unbroken state; current waiters get BrokenBarrierError.
  void reset();
  // Breaks the barrier.
  void abort();
  int64_t parties() const;
  int64_t n_waiting() const;
  bool broken() const;

 private:
  friend class detail::ProxyAccess;
  explicit BarrierProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

}  // namespace shoal

#endif  // SHOAL_EVENT_PROXY_H_
