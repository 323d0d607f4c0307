// Converts the server's absl::Status results to a gRPC status, at the gRPC
// edge only: its message starts with the Python error kind ("KeyError: 'k'",
// see ErrorLine) and its details hold a google.rpc.Status carrying a
// shoal.v1.ErrorInfo.
#ifndef SHOAL_SERVER_TRANSPORT_GRPC_STATUS_H_
#define SHOAL_SERVER_TRANSPORT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace shoal::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_GRPC_STATUS_H_
