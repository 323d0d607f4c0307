#include "server/transport/table_service.h"

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/impl/codegen/server_callback_handlers.h>

#include "server/transport/authenticate.h"
#include "server/transport/grpc_status.h"

namespace shoal::server {

TableService::TableService(Core& core, const Dispatcher& dispatcher, const DispatchTable& table)
    : core_(core), dispatcher_(dispatcher) {
  int index = 0;
  for (const Method& row : table.rows()) {
    const Method* method = &row;
    AddMethod(new grpc::internal::RpcServiceMethod(
        method->path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRawCallback(
        index++, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                     [this, method](grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                       return Handle(context, *method, request, response);
                     }));
  }
}

grpc::ServerUnaryReactor* TableService::Handle(grpc::CallbackServerContext* context,
                                               const Method& method,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<SessionId> session = Authenticate(core_, *context);
  if (!session.ok()) {
    reactor->Finish(ToGrpcStatus(session.status()));
    return reactor;
  }
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (request->Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  CallContext call(core_, *session);
  dispatcher_.Invoke(method, call, bytes, [reactor, response](absl::Status status, std::string out) {
    if (!status.ok()) {
      reactor->Finish(ToGrpcStatus(status));
      return;
    }
    grpc::Slice slice(out);
    *response = grpc::ByteBuffer(&slice, 1);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace shoal::server
