// SemaphoreService and BoundedSemaphoreService: one set of rows over
// SemaphoreObject, for each kind.
#include "server/objects/semaphore_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/semaphore.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

std::vector<Method> Rows(absl::string_view service, Kind kind) {
  std::vector<Method> rows;
  rows.push_back(TimedRow<SemaphoreObject, v1::AcquireReply>(
      service, "Acquire", kind, &SemaphoreObject::Acquire, FillAcquire));
  rows.push_back(ObjectRow<SemaphoreObject, v1::CountRequest, v1::EmptyReply>(
      service, "Release", kind,
      [](CallContext& c, SemaphoreObject& sem, const v1::CountRequest& r, v1::EmptyReply&) {
        return sem.Release(Caller{c.session()}, r.has_n() ? r.n() : 1);
      }));
  rows.push_back(ObjectRow<SemaphoreObject, v1::ObjectRequest, v1::IntReply>(
      service, "Value", kind,
      [](CallContext&, SemaphoreObject& sem, const v1::ObjectRequest&, v1::IntReply& out) {
        out.set_value(sem.Value());
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& SemaphoreTable() {
  static const DispatchTable* table = new DispatchTable(
      "shoal.v1.SemaphoreService", Rows("shoal.v1.SemaphoreService", Kind::kSemaphore));
  return *table;
}

const DispatchTable& BoundedSemaphoreTable() {
  static const DispatchTable* table =
      new DispatchTable("shoal.v1.BoundedSemaphoreService",
                        Rows("shoal.v1.BoundedSemaphoreService", Kind::kBoundedSemaphore));
  return *table;
}

}  // namespace shoal::server
