// ConnectionService: rows over ConnectionObject, the ends of a Pipe.
#include "server/objects/connection_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/connection.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/sync.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.ConnectionService";

// The message received; the caller's session now holds the references in it.
void FillMessage(const CallContext& context, const Outcome& outcome, v1::ValueReply& out) {
  context.Give(outcome.value, out.mutable_value());
}

// A row that answers with one of the end's flags.
Method FlagRow(absl::string_view name, bool (ConnectionObject::*flag)() const) {
  return ObjectRow<ConnectionObject, v1::ObjectRequest, v1::BoolReply>(
      kService, name, Kind::kConnection,
      [flag](CallContext&, ConnectionObject& end, const v1::ObjectRequest&, v1::BoolReply& out) {
        out.set_value((end.*flag)());
        return absl::OkStatus();
      });
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(WaitingRow<ConnectionObject, v1::SendRequest, v1::EmptyReply>(
      kService, "Send", Kind::kConnection,
      [](CallContext& c, std::shared_ptr<ConnectionObject> end, const v1::SendRequest& r,
         Responder<v1::EmptyReply> respond) {
        absl::StatusOr<Value> item = c.Store(r.item(), *end);
        if (!item.ok()) return respond(item.status());
        ParkCall<v1::EmptyReply, ConnectionObject>(
            c, std::move(end), r.has_timeout(), r.timeout(), std::move(respond),
            [&item](ConnectionObject& e, WaitRequest w) {
              return e.Send(std::move(w), *std::move(item));
            },
            FillEmpty);
      }));
  rows.push_back(TimedRow<ConnectionObject, v1::ValueReply>(kService, "Recv", Kind::kConnection,
                                                            &ConnectionObject::Recv, FillMessage));
  rows.push_back(TimedRow<ConnectionObject, v1::BoolReply>(kService, "Poll", Kind::kConnection,
                                                           &ConnectionObject::Poll, FillBool));
  rows.push_back(ObjectRow<ConnectionObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Close", Kind::kConnection,
      [](CallContext&, ConnectionObject& end, const v1::ObjectRequest&, v1::EmptyReply&) {
        end.Close();
        return absl::OkStatus();
      }));
  rows.push_back(FlagRow("Closed", &ConnectionObject::Closed));
  rows.push_back(FlagRow("Readable", &ConnectionObject::Readable));
  rows.push_back(FlagRow("Writable", &ConnectionObject::Writable));
  return rows;
}

}  // namespace

const DispatchTable& ConnectionTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server
