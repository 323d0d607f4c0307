// ConditionService: rows over ConditionObject. Acquire and Release are the
// underlying lock's; Wait answers once the caller holds the lock again.
#include "server/objects/condition_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/condition.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.ConditionService";

std::vector<Method> Rows() {
  std::vector<Method> rows;
  // The reply carries the fencing token of the lock's grant.
  rows.push_back(TimedRow<ConditionObject, v1::AcquireReply>(
      kService, "Acquire", Kind::kCondition, &ConditionObject::Acquire, FillAcquire));
  rows.push_back(ObjectRow<ConditionObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Release", Kind::kCondition,
      [](CallContext& c, ConditionObject& cond, const v1::ObjectRequest&, v1::EmptyReply&) {
        return cond.Release(Caller{c.session()});
      }));
  // True when notified, false when the timeout passed first.
  rows.push_back(TimedRow<ConditionObject, v1::BoolReply>(kService, "Wait", Kind::kCondition,
                                                          &ConditionObject::Wait, FillBool));
  rows.push_back(ObjectRow<ConditionObject, v1::CountRequest, v1::EmptyReply>(
      kService, "Notify", Kind::kCondition,
      [](CallContext& c, ConditionObject& cond, const v1::CountRequest& r, v1::EmptyReply&) {
        return cond.Notify(Caller{c.session()}, r.has_n() ? r.n() : 1);
      }));
  rows.push_back(ObjectRow<ConditionObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "NotifyAll", Kind::kCondition,
      [](CallContext& c, ConditionObject& cond, const v1::ObjectRequest&, v1::EmptyReply&) {
        return cond.NotifyAll(Caller{c.session()});
      }));
  return rows;
}

}  // namespace

const DispatchTable& ConditionTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server
