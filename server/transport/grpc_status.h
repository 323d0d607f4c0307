// Converts the server's absl::Status results to what goes on the wire: a gRPC
// status whose message starts with the Python error kind ("KeyError: 'k'") and
// whose details hold a google.rpc.Status carrying a shoal.v1.ErrorInfo, or the
// error fields of a session-stream Reply.
#ifndef SHOAL_SERVER_TRANSPORT_GRPC_STATUS_H_
#define SHOAL_SERVER_TRANSPORT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

grpc::Status ToGrpcStatus(const absl::Status& status);
void FillReplyError(const absl::Status& status, v1::Reply* reply);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_GRPC_STATUS_H_
