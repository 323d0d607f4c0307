// LockService and RLockService: one set of rows over LockObject, for each kind.
#include "server/objects/lock_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/lock.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

std::vector<Method> Rows(absl::string_view service, Kind kind) {
  std::vector<Method> rows;
  rows.push_back(TimedRow<LockObject, v1::AcquireReply>(service, "Acquire", kind,
                                                      &LockObject::Acquire, FillAcquire));
  rows.push_back(ObjectRow<LockObject, v1::ObjectRequest, v1::EmptyReply>(
      service, "Release", kind,
      [](CallContext& c, LockObject& lock, const v1::ObjectRequest&, v1::EmptyReply&) {
        return lock.Release(Caller{c.session()});
      }));
  rows.push_back(ObjectRow<LockObject, v1::ObjectRequest, v1::BoolReply>(
      service, "Locked", kind,
      [](CallContext&, LockObject& lock, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value(lock.Locked());
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& LockTable() {
  static const DispatchTable* table =
      new DispatchTable("shoal.v1.LockService", Rows("shoal.v1.LockService", Kind::kLock));
  return *table;
}

const DispatchTable& RLockTable() {
  static const DispatchTable* table =
      new DispatchTable("shoal.v1.RLockService", Rows("shoal.v1.RLockService", Kind::kRLock));
  return *table;
}

}  // namespace shoal::server
