// BarrierService: rows over BarrierObject.
#include "server/objects/barrier_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/barrier.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.BarrierService";

// The caller's arrival index; BrokenBarrierError comes as the outcome's status.
void FillIndex(const CallContext&, const Outcome& outcome, v1::IntReply& out) {
  out.set_value(outcome.value.is_int() ? outcome.value.as_int() : 0);
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  // A request without a timeout has no deadline, so the barrier's default
  // timeout applies (BarrierObject::Wait).
  rows.push_back(TimedRow<BarrierObject, v1::IntReply>(kService, "Wait", Kind::kBarrier,
                                                       &BarrierObject::Wait, FillIndex));
  rows.push_back(ObjectRow<BarrierObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Reset", Kind::kBarrier,
      [](CallContext&, BarrierObject& barrier, const v1::ObjectRequest&, v1::EmptyReply&) {
        barrier.Reset();
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<BarrierObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Abort", Kind::kBarrier,
      [](CallContext&, BarrierObject& barrier, const v1::ObjectRequest&, v1::EmptyReply&) {
        barrier.Abort();
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<BarrierObject, v1::ObjectRequest, v1::IntReply>(
      kService, "Parties", Kind::kBarrier,
      [](CallContext&, BarrierObject& barrier, const v1::ObjectRequest&, v1::IntReply& out) {
        out.set_value(barrier.Parties());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<BarrierObject, v1::ObjectRequest, v1::IntReply>(
      kService, "NWaiting", Kind::kBarrier,
      [](CallContext&, BarrierObject& barrier, const v1::ObjectRequest&, v1::IntReply& out) {
        out.set_value(barrier.NWaiting());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<BarrierObject, v1::ObjectRequest, v1::BoolReply>(
      kService, "Broken", Kind::kBarrier,
      [](CallContext&, BarrierObject& barrier, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value(barrier.Broken());
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& BarrierTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server
