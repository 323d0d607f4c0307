// The proxies of the synchronization kinds. The kinds that one proxy class
// serves (Lock and RLock through AcquirerProxy, Semaphore and
// BoundedSemaphore, Queue and JoinableQueue) have a service each, with the
// same operations: a call goes to the service of the object's kind.
#include <string>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/acquirer_proxy.h"
#include "shoal/condition_proxy.h"
#include "shoal/errors.h"
#include "shoal/event_proxy.h"
#include "shoal/queue_proxy.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/queue.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal {
namespace {

using detail::AsyncTarget;
using detail::BoolOf;
using detail::IntOf;
using detail::KeepAlive;
using detail::NoResult;
namespace method = detail::method;

// The method for kind among those of the kinds a proxy class serves, given
// as (kind, method) pairs; they take and return the same messages, or this
// does not compile. A proxy is made only for a kind of its class, checked
// when its handle is made.
template <class M>
const M& ForKind(Kind kind, Kind candidate, const M& method) {
  if (kind != candidate) {
    throw TypeError(std::string("this proxy does not serve a ") + KindName(kind));
  }
  return method;
}
template <class M, class... More>
const M& ForKind(Kind kind, Kind candidate, const M& method, const More&... more) {
  return kind == candidate ? method : ForKind<M>(kind, more...);
}

// The method of a Queue or a JoinableQueue, for the target's kind.
template <class M>
const M& OfQueue(const AsyncTarget& target, const M& queue, const M& joinable) {
  return ForKind(target.handle->kind(), Kind::kQueue, queue, Kind::kJoinableQueue, joinable);
}

// The method of a Semaphore or a BoundedSemaphore, for the target's kind.
template <class M>
const M& OfSemaphore(const AsyncTarget& target, const M& semaphore, const M& bounded) {
  return ForKind(target.handle->kind(), Kind::kSemaphore, semaphore, Kind::kBoundedSemaphore,
                 bounded);
}

// Python's (block, timeout) as the wire's optional timeout: left out waits
// for ever, 0 does not wait.
template <class Request>
void SetWait(Request& request, bool block, const Timeout& timeout) {
  if (!block) {
    request.set_timeout(0);
  } else if (timeout.has_value()) {
    request.set_timeout(timeout->count() > 0 ? timeout->count() : 0);
  }
}

// The requests of these kinds, aimed at the target's object.
v1::ObjectRequest Plain(const AsyncTarget& target) {
  return detail::RequestFor<v1::ObjectRequest>(target);
}

v1::TimedRequest Timed(const AsyncTarget& target, bool block, const Timeout& timeout) {
  auto request = detail::RequestFor<v1::TimedRequest>(target);
  SetWait(request, block, timeout);
  return request;
}

v1::CountRequest Count(const AsyncTarget& target, int64_t n) {
  auto request = detail::RequestFor<v1::CountRequest>(target);
  request.set_n(n);
  return request;
}

}  // namespace

bool AcquirerProxy::acquire(bool blocking, Timeout timeout) {
  if (!blocking && timeout.has_value()) {
    // Python's threading raises this before doing anything; so does this,
    // before sending anything. The message is the one Python gives the kind.
    throw ValueError(kind() == Kind::kSemaphore || kind() == Kind::kBoundedSemaphore
                         ? "can't specify timeout for non-blocking acquire"
                         : "can't specify a timeout for a non-blocking call");
  }
  const AsyncTarget target = immediate_target();
  const auto& acquire =
      ForKind(kind(), Kind::kLock, method::LockService::Acquire, Kind::kRLock,
              method::RLockService::Acquire, Kind::kSemaphore, method::SemaphoreService::Acquire,
              Kind::kBoundedSemaphore, method::BoundedSemaphoreService::Acquire, Kind::kCondition,
              method::ConditionService::Acquire);
  v1::AcquireReply reply = detail::Start(target, acquire, Timed(target, blocking, timeout),
                                         KeepAlive(), detail::WholeReply)
                               .get();
  if (reply.acquired() && reply.fencing_token() != 0) {
    token_->store(reply.fencing_token(), std::memory_order_release);
  }
  return reply.acquired();
}

void AcquirerProxy::release() {
  const AsyncTarget target = immediate_target();
  if (kind() == Kind::kSemaphore || kind() == Kind::kBoundedSemaphore) {
    const auto& release = OfSemaphore(target, method::SemaphoreService::Release,
                                      method::BoundedSemaphoreService::Release);
    detail::Start(target, release, Count(target, 1), KeepAlive(), NoResult).get();
    return;
  }
  const auto& release =
      ForKind(kind(), Kind::kLock, method::LockService::Release, Kind::kRLock,
              method::RLockService::Release, Kind::kCondition, method::ConditionService::Release);
  detail::Start(target, release, Plain(target), KeepAlive(), NoResult).get();
}

bool LockProxy::locked() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::LockService::Locked, Plain(target), KeepAlive(), BoolOf)
      .get();
}

bool RLockProxy::locked() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::RLockService::Locked, Plain(target), KeepAlive(), BoolOf)
      .get();
}

void SemaphoreProxy::release(int64_t n) {
  const AsyncTarget target = immediate_target();
  const auto& release = OfSemaphore(target, method::SemaphoreService::Release,
                                    method::BoundedSemaphoreService::Release);
  detail::Start(target, release, Count(target, n), KeepAlive(), NoResult).get();
}

int64_t SemaphoreProxy::value() const {
  const AsyncTarget target = immediate_target();
  const auto& value =
      OfSemaphore(target, method::SemaphoreService::Value, method::BoundedSemaphoreService::Value);
  return detail::Start(target, value, Plain(target), KeepAlive(), IntOf).get();
}

bool ConditionProxy::wait(Timeout timeout) {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::ConditionService::Wait, Timed(target, true, timeout),
                       KeepAlive(), BoolOf)
      .get();
}

void ConditionProxy::notify(int64_t n) {
  const AsyncTarget target = immediate_target();
  detail::Start(target, method::ConditionService::Notify, Count(target, n), KeepAlive(), NoResult)
      .get();
}

void ConditionProxy::notify_all() {
  const AsyncTarget target = immediate_target();
  detail::Start(target, method::ConditionService::NotifyAll, Plain(target), KeepAlive(), NoResult)
      .get();
}

EventProxy::Async EventProxy::async() const { return Async(async_target(nullptr)); }
EventProxy::Async EventProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
EventProxy::Async EventProxy::now() const { return Async(immediate_target()); }

Future<bool> EventProxy::Async::is_set() {
  return detail::Start(target_, method::EventService::IsSet, Plain(target_), KeepAlive(), BoolOf);
}

Future<void> EventProxy::Async::set() {
  return detail::Start(target_, method::EventService::Set, Plain(target_), KeepAlive(), NoResult);
}

Future<void> EventProxy::Async::clear() {
  return detail::Start(target_, method::EventService::Clear, Plain(target_), KeepAlive(), NoResult);
}

Future<bool> EventProxy::Async::wait(Timeout timeout) {
  return detail::Start(target_, method::EventService::Wait, Timed(target_, true, timeout),
                       KeepAlive(), BoolOf);
}

bool EventProxy::is_set() const { return now().is_set().get(); }

void EventProxy::set() { now().set().get(); }

void EventProxy::clear() { now().clear().get(); }

bool EventProxy::wait(Timeout timeout) const { return now().wait(timeout).get(); }

int64_t BarrierProxy::wait(Timeout timeout) {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::BarrierService::Wait, Timed(target, true, timeout),
                       KeepAlive(), IntOf)
      .get();
}

void BarrierProxy::reset() {
  const AsyncTarget target = immediate_target();
  detail::Start(target, method::BarrierService::Reset, Plain(target), KeepAlive(), NoResult).get();
}

void BarrierProxy::abort() {
  const AsyncTarget target = immediate_target();
  detail::Start(target, method::BarrierService::Abort, Plain(target), KeepAlive(), NoResult).get();
}

int64_t BarrierProxy::parties() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::BarrierService::Parties, Plain(target), KeepAlive(), IntOf)
      .get();
}

int64_t BarrierProxy::n_waiting() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::BarrierService::NWaiting, Plain(target), KeepAlive(), IntOf)
      .get();
}

bool BarrierProxy::broken() const {
  const AsyncTarget target = immediate_target();
  return detail::Start(target, method::BarrierService::Broken, Plain(target), KeepAlive(), BoolOf)
      .get();
}

QueueProxy::Async QueueProxy::async() const { return Async(async_target(nullptr)); }
QueueProxy::Async QueueProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
QueueProxy::Async QueueProxy::now() const { return Async(immediate_target()); }

Future<void> QueueProxy::Async::put(const Value& item, bool block, Timeout timeout) {
  auto request = detail::RequestFor<v1::PutRequest>(target_);
  KeepAlive keep_alive;
  detail::EncodeArg(item, request.mutable_item(), &keep_alive);
  SetWait(request, block, timeout);
  const auto& put = OfQueue(target_, method::QueueService::Put, method::JoinableQueueService::Put);
  return detail::Start(target_, put, request, std::move(keep_alive), NoResult);
}

Future<Value> QueueProxy::Async::get(bool block, Timeout timeout) {
  const auto& get = OfQueue(target_, method::QueueService::Get, method::JoinableQueueService::Get);
  return detail::Start(target_, get, Timed(target_, block, timeout), KeepAlive(), detail::ValueOf);
}

Future<int64_t> QueueProxy::Async::qsize() {
  const auto& qsize =
      OfQueue(target_, method::QueueService::QSize, method::JoinableQueueService::QSize);
  return detail::Start(target_, qsize, Plain(target_), KeepAlive(), IntOf);
}

Future<void> QueueProxy::Async::task_done() {
  const auto& task_done =
      OfQueue(target_, method::QueueService::TaskDone, method::JoinableQueueService::TaskDone);
  return detail::Start(target_, task_done, Plain(target_), KeepAlive(), NoResult);
}

Future<bool> QueueProxy::Async::join(Timeout timeout) {
  const auto& join =
      OfQueue(target_, method::QueueService::Join, method::JoinableQueueService::Join);
  return detail::Start(target_, join, Timed(target_, true, timeout), KeepAlive(), BoolOf);
}

Future<void> QueueProxy::Async::shutdown(bool immediate) {
  auto request = detail::RequestFor<v1::ShutdownRequest>(target_);
  request.set_immediate(immediate);
  const auto& shutdown =
      OfQueue(target_, method::QueueService::Shutdown, method::JoinableQueueService::Shutdown);
  return detail::Start(target_, shutdown, request, KeepAlive(), NoResult);
}

Future<bool> QueueProxy::Async::is_shutdown() {
  const auto& is_shutdown =
      OfQueue(target_, method::QueueService::IsShutdown, method::JoinableQueueService::IsShutdown);
  return detail::Start(target_, is_shutdown, Plain(target_), KeepAlive(), BoolOf);
}

void QueueProxy::put(const Value& item, bool block, Timeout timeout) {
  now().put(item, block, timeout).get();
}

Value QueueProxy::get(bool block, Timeout timeout) { return now().get(block, timeout).get(); }

int64_t QueueProxy::qsize() const { return now().qsize().get(); }

bool QueueProxy::empty() const {
  const AsyncTarget target = immediate_target();
  const auto& empty =
      OfQueue(target, method::QueueService::Empty, method::JoinableQueueService::Empty);
  return detail::Start(target, empty, Plain(target), KeepAlive(), BoolOf).get();
}

bool QueueProxy::full() const {
  const AsyncTarget target = immediate_target();
  const auto& full =
      OfQueue(target, method::QueueService::Full, method::JoinableQueueService::Full);
  return detail::Start(target, full, Plain(target), KeepAlive(), BoolOf).get();
}

void QueueProxy::task_done() { now().task_done().get(); }

void QueueProxy::join() { join(std::nullopt); }

bool QueueProxy::join(Timeout timeout) { return now().join(timeout).get(); }

void QueueProxy::shutdown(bool immediate) { now().shutdown(immediate).get(); }

bool QueueProxy::is_shutdown() const { return now().is_shutdown().get(); }

}  // namespace shoal
