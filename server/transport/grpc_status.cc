#include "server/transport/grpc_status.h"

#include <string>

#include "google/rpc/status.pb.h"
#include "server/transport/stream_errors.h"
#include "shared/error_kind.h"
#include "shoal/v1/errors.pb.h"

namespace shoal::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string kind_name(ErrorKindName(ErrorKindOf(status)));
  // grpcurl and other rich-status readers print the details' message rather
  // than the status line, so both carry the kind.
  const std::string line = ErrorLine(status);
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(line);
  v1::ErrorInfo info;
  info.set_kind(kind_name);
  info.set_message(std::string(status.message()));
  details.add_details()->PackFrom(info);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), line,
                      details.SerializeAsString());
}

}  // namespace shoal::server
