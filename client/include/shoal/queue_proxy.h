// QueueProxy is manager.Queue(maxsize) and manager.JoinableQueue(maxsize): a
// FIFO of Values shared by every session. Items may hold references to other
// shared objects (a proxy put in comes out as a live reference: make a proxy
// of it, such as ListProxy(item)). An item is never lost: a get that times
// out, or whose session ends, takes nothing (only shutdown(true) drops the
// items left, as asked).
//
// Thread-safety: a proxy may be used from several threads at once; a get
// that waits does not hold up other calls of the same Manager.
#ifndef SHOAL_QUEUE_PROXY_H_
#define SHOAL_QUEUE_PROXY_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "shoal/acquirer_proxy.h"
#include "shoal/proxy.h"
#include "shoal/value.h"

namespace shoal {

class QueueProxy : public ObjectProxy {
 public:
  static constexpr Kind kKind = Kind::kQueue;
  static constexpr Kind kOtherKind = Kind::kJoinableQueue;
  explicit QueueProxy(const Value& value) : ObjectProxy(value, kKind, kOtherKind) {}
  class Async;

  // The same operations, pipelined: each returns a Future at once (see
  // shoal/pipeline.h); a blocking put's or get's Future is ready when the
  // call ends.
  Async async() const;
  Async async(Batch& batch) const;

  // q.put(item, block, timeout). Full when the queue stays full past the
  // timeout, or at once when block is false. ShutDown when the queue is shut
  // down, or is shut down while the put waits (the item is not added).
  void put(const Value& item, bool block = true, Timeout timeout = std::nullopt);
  // q.get(block, timeout): the oldest item. Empty when none comes before the
  // timeout, or at once when block is false. ShutDown when the queue is shut
  // down and empty, or is shut down while the get waits.
  Value get(bool block = true, Timeout timeout = std::nullopt);
  void put_nowait(const Value& item) { put(item, false); }
  Value get_nowait() { return get(false); }
  int64_t qsize() const;
  bool empty() const;
  bool full() const;
  // q.task_done(): one item taken is processed. ValueError when none is
  // unfinished.
  void task_done();
  // q.join(): returns once every item put has been marked done.
  void join();
  // The same with a timeout (which Python's join lacks): false when it
  // passed first.
  bool join(Timeout timeout);
  // q.shutdown(immediate), as Python 3.13's Queue.shutdown: from now on put
  // throws ShutDown, and so does get once the queue is empty (the items left
  // are still handed out); the puts and gets waiting, in any process, throw
  // ShutDown at once. With immediate, the items left are dropped and each
  // counts as done, so a join waiting for them alone returns. Calling it
  // again is allowed.
  void shutdown(bool immediate = false);
  // q.is_shutdown
  bool is_shutdown() const;

 private:
  friend class detail::ProxyAccess;
  // The view the blocking methods wait on.
  Async now() const;
  explicit QueueProxy(std::shared_ptr<detail::ObjectHandle> handle)
      : ObjectProxy(std::move(handle)) {}
};

// QueueProxy's operations, each returning a Future of what the blocking
// method returns; Full and Empty are thrown by the Future's get().
class QueueProxy::Async {
 public:
  Future<void> put(const Value& item, bool block = true, Timeout timeout = std::nullopt);
  Future<Value> get(bool block = true, Timeout timeout = std::nullopt);
  Future<int64_t> qsize();
  Future<void> task_done();
  // True once every item put is done; false when timeout passed first.
  Future<bool> join(Timeout timeout = std::nullopt);
  Future<void> shutdown(bool immediate = false);
  Future<bool> is_shutdown();

 private:
  friend class QueueProxy;
  explicit Async(detail::AsyncTarget target) : target_(std::move(target)) {}

  detail::AsyncTarget target_;
};

}  // namespace shoal

#endif  // SHOAL_QUEUE_PROXY_H_
