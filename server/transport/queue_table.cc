// QueueService and JoinableQueueService: one set of rows over QueueObject,
// for each kind.
#include "server/objects/queue_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/queue.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

// The item taken; the caller's session now holds the references in it.
void FillItem(const CallContext& context, const Outcome& outcome, v1::ValueReply& out) {
  context.Give(outcome.value, out.mutable_value());
}

// The queue completes a join with None once every task is done, and with
// False when the timeout passed first.
void FillJoined(const CallContext&, const Outcome& outcome, v1::BoolReply& out) {
  out.set_value(!outcome.value.is_bool() || outcome.value.as_bool());
}

std::vector<Method> Rows(absl::string_view service, Kind kind) {
  std::vector<Method> rows;
  rows.push_back(WaitingRow<QueueObject, v1::PutRequest, v1::EmptyReply>(
      service, "Put", kind,
      [](CallContext& c, std::shared_ptr<QueueObject> queue, const v1::PutRequest& r,
         Responder<v1::EmptyReply> respond) {
        absl::StatusOr<Value> item = c.Store(r.item(), *queue);
        if (!item.ok()) return respond(item.status());
        ParkCall<v1::EmptyReply, QueueObject>(
            c, std::move(queue), r.has_timeout(), r.timeout(), std::move(respond),
            [&item](QueueObject& q, WaitRequest w) { return q.Put(std::move(w), *std::move(item)); },
            FillEmpty);
      }));
  rows.push_back(
      TimedRow<QueueObject, v1::ValueReply>(service, "Get", kind, &QueueObject::Get, FillItem));
  rows.push_back(ObjectRow<QueueObject, v1::ObjectRequest, v1::IntReply>(
      service, "QSize", kind,
      [](CallContext&, QueueObject& queue, const v1::ObjectRequest&, v1::IntReply& out) {
        out.set_value(queue.QSize());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<QueueObject, v1::ObjectRequest, v1::BoolReply>(
      service, "Empty", kind,
      [](CallContext&, QueueObject& queue, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value(queue.Empty());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<QueueObject, v1::ObjectRequest, v1::BoolReply>(
      service, "Full", kind,
      [](CallContext&, QueueObject& queue, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value(queue.Full());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<QueueObject, v1::ObjectRequest, v1::EmptyReply>(
      service, "TaskDone", kind,
      [](CallContext&, QueueObject& queue, const v1::ObjectRequest&, v1::EmptyReply&) {
        return queue.TaskDone();
      }));
  rows.push_back(
      TimedRow<QueueObject, v1::BoolReply>(service, "Join", kind, &QueueObject::Join, FillJoined));
  rows.push_back(ObjectRow<QueueObject, v1::ShutdownRequest, v1::EmptyReply>(
      service, "Shutdown", kind,
      [](CallContext&, QueueObject& queue, const v1::ShutdownRequest& r, v1::EmptyReply&) {
        queue.Shutdown(r.immediate());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<QueueObject, v1::ObjectRequest, v1::BoolReply>(
      service, "IsShutdown", kind,
      [](CallContext&, QueueObject& queue, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value(queue.IsShutdown());
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& QueueTable() {
  static const DispatchTable* table =
      new DispatchTable("shoal.v1.QueueService", Rows("shoal.v1.QueueService", Kind::kQueue));
  return *table;
}

const DispatchTable& JoinableQueueTable() {
  static const DispatchTable* table = new DispatchTable(
      "shoal.v1.JoinableQueueService",
      Rows("shoal.v1.JoinableQueueService", Kind::kJoinableQueue));
  return *table;
}

}  // namespace shoal::server
