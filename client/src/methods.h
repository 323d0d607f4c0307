// The server methods the client library calls on the session stream, each
// declared once, as a constant that carries its path and its request and
// response messages: method::DictService::SetItem is
// "/shoal.v1.DictService/SetItem", which takes a v1::SetRequest and is
// answered with a v1::EmptyReply.
//
// The call path (client/src/call.h) takes a method and a request of that
// method's Request type only, so a call with the wrong message does not
// compile. tests/unit/client/methods_test.cc checks every method listed here
// against the proto's descriptors (service, method, request and response
// types), so a misspelt name fails the tests instead of a user's call.
//
// Constants only; safe from any thread.
#ifndef SHOAL_CLIENT_SRC_METHODS_H_
#define SHOAL_CLIENT_SRC_METHODS_H_

#include "absl/strings/string_view.h"
#include "shoal/v1/array.pb.h"
#include "shoal/v1/barrier.pb.h"
#include "shoal/v1/condition.pb.h"
#include "shoal/v1/connection.pb.h"
#include "shoal/v1/dict.pb.h"
#include "shoal/v1/event.pb.h"
#include "shoal/v1/list.pb.h"
#include "shoal/v1/lock.pb.h"
#include "shoal/v1/manager.pb.h"
#include "shoal/v1/namespace.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/pool.pb.h"
#include "shoal/v1/queue.pb.h"
#include "shoal/v1/semaphore.pb.h"
#include "shoal/v1/shared_value.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::detail {

// One unary method of a shoal.v1 service, as the session stream calls it.
template <class RequestMessage, class ResponseMessage>
struct Method {
  using Request = RequestMessage;
  using Response = ResponseMessage;
  // "/shoal.v1.<Service>/<Method>", as Call.method carries it.
  absl::string_view path;
};

// The table of methods: service, method, request message, response message
// (messages of package shoal.v1). A row becomes method::<Service>::<Method>.
#define SHOAL_CLIENT_METHODS(ROW)                                               \
  ROW(Manager, Create, CreateRequest, CreateReply)                              \
  ROW(Manager, Lookup, LookupRequest, LookupReply)                              \
  ROW(Manager, Release, ReleaseRequest, ReleaseReply)                           \
  ROW(Manager, Delete, DeleteRequest, DeleteReply)                              \
  ROW(Manager, ListObjects, ListObjectsRequest, ListObjectsReply)               \
  ROW(Manager, Describe, DescribeRequest, ObjectInfo)                           \
  ROW(Manager, ListSessions, ListSessionsRequest, ListSessionsReply)            \
                                                                                \
  ROW(ListService, Append, ItemRequest, EmptyReply)                             \
  ROW(ListService, Extend, ItemsRequest, EmptyReply)                            \
  ROW(ListService, Insert, InsertRequest, EmptyReply)                           \
  ROW(ListService, Pop, PopRequest, ValueReply)                                 \
  ROW(ListService, Remove, ItemRequest, EmptyReply)                             \
  ROW(ListService, Index, IndexOfRequest, IntReply)                             \
  ROW(ListService, Count, ItemRequest, IntReply)                                \
  ROW(ListService, Reverse, ObjectRequest, EmptyReply)                          \
  ROW(ListService, Sort, SortRequest, EmptyReply)                               \
  ROW(ListService, GetItem, IndexRequest, ValueReply)                           \
  ROW(ListService, SetItem, SetItemRequest, EmptyReply)                         \
  ROW(ListService, DelItem, IndexRequest, EmptyReply)                           \
  ROW(ListService, GetSlice, SliceRequest, ValuesReply)                         \
  ROW(ListService, SetSlice, SetSliceRequest, EmptyReply)                       \
  ROW(ListService, DelSlice, SliceRequest, EmptyReply)                          \
  ROW(ListService, Len, ObjectRequest, IntReply)                                \
  ROW(ListService, Contains, ItemRequest, BoolReply)                            \
  ROW(ListService, Clear, ObjectRequest, EmptyReply)                            \
  ROW(ListService, Copy, ObjectRequest, ValueReply)                             \
  ROW(ListService, Repeat, RepeatRequest, EmptyReply)                           \
                                                                                \
  ROW(DictService, GetItem, KeyRequest, ValueReply)                             \
  ROW(DictService, Get, GetRequest, ValueReply)                                 \
  ROW(DictService, SetItem, SetRequest, EmptyReply)                             \
  ROW(DictService, DelItem, KeyRequest, EmptyReply)                             \
  ROW(DictService, Contains, KeyRequest, BoolReply)                             \
  ROW(DictService, SetDefault, SetRequest, ValueReply)                          \
  ROW(DictService, Pop, GetRequest, ValueReply)                                 \
  ROW(DictService, PopItem, ObjectRequest, EntryReply)                          \
  ROW(DictService, Update, UpdateRequest, EmptyReply)                           \
  ROW(DictService, Keys, ObjectRequest, ValuesReply)                            \
  ROW(DictService, Values, ObjectRequest, ValuesReply)                          \
  ROW(DictService, Items, ObjectRequest, EntriesReply)                          \
  ROW(DictService, Len, ObjectRequest, IntReply)                                \
  ROW(DictService, Clear, ObjectRequest, EmptyReply)                            \
  ROW(DictService, Copy, ObjectRequest, ValueReply)                             \
  ROW(DictService, NextKey, NextKeyRequest, NextKeyReply)                       \
                                                                                \
  ROW(NamespaceService, GetAttr, AttrRequest, ValueReply)                       \
  ROW(NamespaceService, SetAttr, SetAttrRequest, EmptyReply)                    \
  ROW(NamespaceService, DelAttr, AttrRequest, EmptyReply)                       \
  ROW(NamespaceService, Attrs, ObjectRequest, AttrsReply)                       \
                                                                                \
  ROW(ValueService, Get, ObjectRequest, ValueReply)                             \
  ROW(ValueService, Set, SetValueRequest, EmptyReply)                           \
  ROW(ValueService, Add, AddRequest, ValueReply)                                \
  ROW(ValueService, CompareAndSwap, CompareAndSwapRequest, CompareAndSwapReply) \
                                                                                \
  ROW(LockService, Acquire, TimedRequest, AcquireReply)                         \
  ROW(LockService, Release, ObjectRequest, EmptyReply)                          \
  ROW(LockService, Locked, ObjectRequest, BoolReply)                            \
  ROW(RLockService, Acquire, TimedRequest, AcquireReply)                        \
  ROW(RLockService, Release, ObjectRequest, EmptyReply)                         \
  ROW(RLockService, Locked, ObjectRequest, BoolReply)                           \
                                                                                \
  ROW(SemaphoreService, Acquire, TimedRequest, AcquireReply)                    \
  ROW(SemaphoreService, Release, CountRequest, EmptyReply)                      \
  ROW(SemaphoreService, Value, ObjectRequest, IntReply)                         \
  ROW(BoundedSemaphoreService, Acquire, TimedRequest, AcquireReply)             \
  ROW(BoundedSemaphoreService, Release, CountRequest, EmptyReply)               \
  ROW(BoundedSemaphoreService, Value, ObjectRequest, IntReply)                  \
                                                                                \
  ROW(ConditionService, Acquire, TimedRequest, AcquireReply)                    \
  ROW(ConditionService, Release, ObjectRequest, EmptyReply)                     \
  ROW(ConditionService, Wait, TimedRequest, BoolReply)                          \
  ROW(ConditionService, Notify, CountRequest, EmptyReply)                       \
  ROW(ConditionService, NotifyAll, ObjectRequest, EmptyReply)                   \
                                                                                \
  ROW(EventService, IsSet, ObjectRequest, BoolReply)                            \
  ROW(EventService, Set, ObjectRequest, EmptyReply)                             \
  ROW(EventService, Clear, ObjectRequest, EmptyReply)                           \
  ROW(EventService, Wait, TimedRequest, BoolReply)                              \
                                                                                \
  ROW(BarrierService, Wait, TimedRequest, IntReply)                             \
  ROW(BarrierService, Reset, ObjectRequest, EmptyReply)                         \
  ROW(BarrierService, Abort, ObjectRequest, EmptyReply)                         \
  ROW(BarrierService, Parties, ObjectRequest, IntReply)                         \
  ROW(BarrierService, NWaiting, ObjectRequest, IntReply)                        \
  ROW(BarrierService, Broken, ObjectRequest, BoolReply)                         \
                                                                                \
  ROW(QueueService, Put, PutRequest, EmptyReply)                                \
  ROW(QueueService, Get, TimedRequest, ValueReply)                              \
  ROW(QueueService, QSize, ObjectRequest, IntReply)                             \
  ROW(QueueService, Empty, ObjectRequest, BoolReply)                            \
  ROW(QueueService, Full, ObjectRequest, BoolReply)                             \
  ROW(QueueService, TaskDone, ObjectRequest, EmptyReply)                        \
  ROW(QueueService, Join, TimedRequest, BoolReply)                              \
  ROW(QueueService, Shutdown, ShutdownRequest, EmptyReply)                      \
  ROW(QueueService, IsShutdown, ObjectRequest, BoolReply)                       \
  ROW(JoinableQueueService, Put, PutRequest, EmptyReply)                        \
  ROW(JoinableQueueService, Get, TimedRequest, ValueReply)                      \
  ROW(JoinableQueueService, QSize, ObjectRequest, IntReply)                     \
  ROW(JoinableQueueService, Empty, ObjectRequest, BoolReply)                    \
  ROW(JoinableQueueService, Full, ObjectRequest, BoolReply)                     \
  ROW(JoinableQueueService, TaskDone, ObjectRequest, EmptyReply)                \
  ROW(JoinableQueueService, Join, TimedRequest, BoolReply)                      \
  ROW(JoinableQueueService, Shutdown, ShutdownRequest, EmptyReply)              \
  ROW(JoinableQueueService, IsShutdown, ObjectRequest, BoolReply)               \
                                                                                \
  ROW(ArrayService, GetItem, ArrayIndexRequest, ValueReply)                     \
  ROW(ArrayService, SetItem, ArraySetItemRequest, EmptyReply)                   \
  ROW(ArrayService, GetSlice, ArraySliceRequest, ValuesReply)                   \
  ROW(ArrayService, SetSlice, ArraySetSliceRequest, EmptyReply)                 \
  ROW(ArrayService, Len, ObjectRequest, IntReply)                               \
  ROW(ArrayService, ToList, ObjectRequest, ValuesReply)                         \
  ROW(ArrayService, Typecode, ObjectRequest, TypecodeReply)                     \
  ROW(ConnectionService, Send, SendRequest, EmptyReply)                         \
  ROW(ConnectionService, Recv, TimedRequest, ValueReply)                        \
  ROW(ConnectionService, Poll, TimedRequest, BoolReply)                         \
  ROW(ConnectionService, Close, ObjectRequest, EmptyReply)                      \
  ROW(ConnectionService, Closed, ObjectRequest, BoolReply)                      \
  ROW(ConnectionService, Readable, ObjectRequest, BoolReply)                    \
  ROW(ConnectionService, Writable, ObjectRequest, BoolReply)                    \
  ROW(PoolService, Submit, SubmitRequest, SubmitReply)                          \
  ROW(PoolService, Pull, PullRequest, PullReply)                                \
  ROW(PoolService, Report, ReportRequest, EmptyReply)                           \
  ROW(PoolService, Results, ResultsRequest, ResultsReply)                       \
  ROW(PoolService, Close, ObjectRequest, EmptyReply)                            \
  ROW(PoolService, Terminate, ObjectRequest, EmptyReply)                        \
  ROW(PoolService, Stats, ObjectRequest, PoolStatsReply)

namespace method {

// A namespace per service, reopened for each of its rows.
#define SHOAL_DECLARE_METHOD(service, name, request, response)                              \
  namespace service {                                                                       \
  inline constexpr Method<v1::request, v1::response> name{"/shoal.v1." #service "/" #name}; \
  }
SHOAL_CLIENT_METHODS(SHOAL_DECLARE_METHOD)
#undef SHOAL_DECLARE_METHOD

}  // namespace method

// Calls visit(method) for each method of the table, in its order.
template <class Visit>
void ForEachMethod(Visit&& visit) {
#define SHOAL_VISIT_METHOD(service, name, request, response) visit(method::service::name);
  SHOAL_CLIENT_METHODS(SHOAL_VISIT_METHOD)
#undef SHOAL_VISIT_METHOD
}

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_METHODS_H_
