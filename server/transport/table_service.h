// The typed unary services (for grpcurl and simple clients), made from the
// dispatch tables with gRPC's public generic API: every call that no other
// service takes arrives here as raw bytes, is routed by its method path to
// its table row through the Dispatcher, and is answered with the row's
// serialized reply. An unknown method is UNIMPLEMENTED. Reflection lists the
// services like any generated one, from the descriptors linked in.
//
// Thread-safe: gRPC calls CreateReactor from any thread.
#ifndef SHOAL_SERVER_TRANSPORT_TABLE_SERVICE_H_
#define SHOAL_SERVER_TRANSPORT_TABLE_SERVICE_H_

#include <grpcpp/generic/async_generic_service.h>

#include "server/core/core.h"
#include "server/transport/dispatch.h"

namespace shoal::server {

class TableService : public grpc::CallbackGenericService {
 public:
  TableService(Core& core, const Dispatcher& dispatcher) : core_(core), dispatcher_(dispatcher) {}
  TableService(const TableService&) = delete;
  TableService& operator=(const TableService&) = delete;

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

 private:
  Core& core_;
  const Dispatcher& dispatcher_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_TABLE_SERVICE_H_
