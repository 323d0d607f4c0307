// EventService: rows over EventObject.
#include "server/objects/event_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/event.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.EventService";

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(ObjectRow<EventObject, v1::ObjectRequest, v1::BoolReply>(
      kService, "IsSet", Kind::kEvent,
      [](CallContext&, EventObject& event, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value(event.IsSet());
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<EventObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Set", Kind::kEvent,
      [](CallContext&, EventObject& event, const v1::ObjectRequest&, v1::EmptyReply&) {
        event.Set();
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<EventObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Clear", Kind::kEvent,
      [](CallContext&, EventObject& event, const v1::ObjectRequest&, v1::EmptyReply&) {
        event.Clear();
        return absl::OkStatus();
      }));
  // The flag when it answers: false means the timeout passed first.
  rows.push_back(
      TimedRow<EventObject, v1::BoolReply>(kService, "Wait", Kind::kEvent, &EventObject::Wait,
                                           FillBool));
  return rows;
}

}  // namespace

const DispatchTable& EventTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server
