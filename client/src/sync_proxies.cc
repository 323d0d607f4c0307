// The proxies of the synchronization kinds. Each call goes to the service of
// the proxy's kind ("/shoal.v1.<Kind>Service/<Op>"), so one proxy class
// serves the two kinds that share its operations.
#include <string>
#include <utility>

#include "client/src/async_call.h"
#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/acquirer_proxy.h"
#include "shoal/condition_proxy.h"
#include "shoal/event_proxy.h"
#include "shoal/queue_proxy.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/queue.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal {
namespace {

using detail::ClientSession;
using detail::KeepAlive;
using detail::ObjectHandle;

const char* ServiceOf(Kind kind) {
  switch (kind) {
    case Kind::kLock:
      return "LockService";
    case Kind::kRLock:
      return "RLockService";
    case Kind::kSemaphore:
      return "SemaphoreService";
    case Kind::kBoundedSemaphore:
      return "BoundedSemaphoreService";
    case Kind::kCondition:
      return "ConditionService";
    case Kind::kEvent:
      return "EventService";
    case Kind::kBarrier:
      return "BarrierService";
    case Kind::kQueue:
      return "QueueService";
    case Kind::kJoinableQueue:
      return "JoinableQueueService";
    default:
      return "UnknownService";
  }
}

std::string MethodOf(const ObjectHandle& handle, const char* op) {
  return std::string("/shoal.v1.") + ServiceOf(handle.kind()) + "/" + op;
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

// One call on the handle's object whose reply holds no references.
template <class Response, class Request>
Response Run(const ObjectHandle& handle, const char* op, Request request,
             KeepAlive keep_alive = {}) {
  request.set_id(handle.id());
  return handle.session().Call<Response>(MethodOf(handle, op), request, std::move(keep_alive));
}

// The pipelined form of Run, on an async view's target.
template <class Response, class Request, class Convert>
auto Start(const detail::AsyncTarget& target, const char* op, Request request,
           KeepAlive keep_alive, Convert convert) {
  request.set_id(target.handle->id());
  return detail::Start<Response>(target, MethodOf(*target.handle, op), request,
                                 std::move(keep_alive), std::move(convert));
}

v1::ObjectRequest Plain() { return v1::ObjectRequest(); }

v1::TimedRequest Timed(bool block, const Timeout& timeout) {
  v1::TimedRequest request;
  SetWait(request, block, timeout);
  return request;
}

v1::CountRequest Count(int64_t n) {
  v1::CountRequest request;
  request.set_n(n);
  return request;
}

}  // namespace

bool AcquirerProxy::acquire(bool blocking, Timeout timeout) {
  v1::AcquireReply reply = Run<v1::AcquireReply>(handle(), "Acquire", Timed(blocking, timeout));
  if (reply.acquired() && reply.fencing_token() != 0) {
    token_->store(reply.fencing_token(), std::memory_order_release);
  }
  return reply.acquired();
}

void AcquirerProxy::release() {
  if (kind() == Kind::kSemaphore || kind() == Kind::kBoundedSemaphore) {
    Run<v1::EmptyReply>(handle(), "Release", Count(1));
  } else {
    Run<v1::EmptyReply>(handle(), "Release", Plain());
  }
}

bool LockProxy::locked() const { return Run<v1::BoolReply>(handle(), "Locked", Plain()).value(); }

bool RLockProxy::locked() const { return Run<v1::BoolReply>(handle(), "Locked", Plain()).value(); }

void SemaphoreProxy::release(int64_t n) { Run<v1::EmptyReply>(handle(), "Release", Count(n)); }

int64_t SemaphoreProxy::value() const {
  return Run<v1::IntReply>(handle(), "Value", Plain()).value();
}

bool ConditionProxy::wait(Timeout timeout) {
  return Run<v1::BoolReply>(handle(), "Wait", Timed(true, timeout)).value();
}

void ConditionProxy::notify(int64_t n) { Run<v1::EmptyReply>(handle(), "Notify", Count(n)); }

void ConditionProxy::notify_all() { Run<v1::EmptyReply>(handle(), "NotifyAll", Plain()); }

EventProxy::Async EventProxy::async() const { return Async(async_target(nullptr)); }
EventProxy::Async EventProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
EventProxy::Async EventProxy::now() const { return Async(immediate_target()); }

Future<bool> EventProxy::Async::is_set() {
  return Start<v1::BoolReply>(target_, "IsSet", Plain(), KeepAlive(), detail::BoolOf);
}

Future<void> EventProxy::Async::set() {
  return Start<v1::EmptyReply>(target_, "Set", Plain(), KeepAlive(),
                               [](ClientSession&, v1::EmptyReply&) {});
}

Future<void> EventProxy::Async::clear() {
  return Start<v1::EmptyReply>(target_, "Clear", Plain(), KeepAlive(),
                               [](ClientSession&, v1::EmptyReply&) {});
}

Future<bool> EventProxy::Async::wait(Timeout timeout) {
  return Start<v1::BoolReply>(target_, "Wait", Timed(true, timeout), KeepAlive(), detail::BoolOf);
}

bool EventProxy::is_set() const { return now().is_set().get(); }

void EventProxy::set() { now().set().get(); }

void EventProxy::clear() { now().clear().get(); }

bool EventProxy::wait(Timeout timeout) const { return now().wait(timeout).get(); }

int64_t BarrierProxy::wait(Timeout timeout) {
  return Run<v1::IntReply>(handle(), "Wait", Timed(true, timeout)).value();
}

void BarrierProxy::reset() { Run<v1::EmptyReply>(handle(), "Reset", Plain()); }

void BarrierProxy::abort() { Run<v1::EmptyReply>(handle(), "Abort", Plain()); }

int64_t BarrierProxy::parties() const {
  return Run<v1::IntReply>(handle(), "Parties", Plain()).value();
}

int64_t BarrierProxy::n_waiting() const {
  return Run<v1::IntReply>(handle(), "NWaiting", Plain()).value();
}

bool BarrierProxy::broken() const {
  return Run<v1::BoolReply>(handle(), "Broken", Plain()).value();
}

QueueProxy::Async QueueProxy::async() const { return Async(async_target(nullptr)); }
QueueProxy::Async QueueProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
QueueProxy::Async QueueProxy::now() const { return Async(immediate_target()); }

Future<void> QueueProxy::Async::put(const Value& item, bool block, Timeout timeout) {
  v1::PutRequest request;
  KeepAlive keep_alive;
  detail::EncodeArg(item, request.mutable_item(), &keep_alive);
  SetWait(request, block, timeout);
  return Start<v1::EmptyReply>(target_, "Put", std::move(request), std::move(keep_alive),
                               [](ClientSession&, v1::EmptyReply&) {});
}

Future<Value> QueueProxy::Async::get(bool block, Timeout timeout) {
  return Start<v1::ValueReply>(target_, "Get", Timed(block, timeout), KeepAlive(),
                               detail::ValueOf);
}

Future<int64_t> QueueProxy::Async::qsize() {
  return Start<v1::IntReply>(target_, "QSize", Plain(), KeepAlive(), detail::IntOf);
}

Future<void> QueueProxy::Async::task_done() {
  return Start<v1::EmptyReply>(target_, "TaskDone", Plain(), KeepAlive(),
                               [](ClientSession&, v1::EmptyReply&) {});
}

Future<bool> QueueProxy::Async::join(Timeout timeout) {
  return Start<v1::BoolReply>(target_, "Join", Timed(true, timeout), KeepAlive(), detail::BoolOf);
}

void QueueProxy::put(const Value& item, bool block, Timeout timeout) {
  now().put(item, block, timeout).get();
}

Value QueueProxy::get(bool block, Timeout timeout) { return now().get(block, timeout).get(); }

int64_t QueueProxy::qsize() const { return now().qsize().get(); }

bool QueueProxy::empty() const { return Run<v1::BoolReply>(handle(), "Empty", Plain()).value(); }

bool QueueProxy::full() const { return Run<v1::BoolReply>(handle(), "Full", Plain()).value(); }

void QueueProxy::task_done() { now().task_done().get(); }

void QueueProxy::join() { join(std::nullopt); }

bool QueueProxy::join(Timeout timeout) { return now().join(timeout).get(); }

}  // namespace shoal
