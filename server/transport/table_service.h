// A gRPC service made from a dispatch table: each row becomes a unary method
// of the service named in the table, served with the callback API on raw
// bytes, so the row does the decoding. Reflection lists these services like
// any generated one, since their descriptors are linked in.
#ifndef SHOAL_SERVER_TRANSPORT_TABLE_SERVICE_H_
#define SHOAL_SERVER_TRANSPORT_TABLE_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include "server/core/core.h"
#include "server/transport/dispatch.h"

namespace shoal::server {

class TableService : public grpc::Service {
 public:
  TableService(Core& core, const Dispatcher& dispatcher, const DispatchTable& table);

 private:
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context, const Method& method,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response);

  Core& core_;
  const Dispatcher& dispatcher_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_TABLE_SERVICE_H_
