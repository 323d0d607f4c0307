#include "server/transport/grpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "shared/error_kind.h"
#include "shoal/v1/errors.pb.h"

namespace shoal::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const ErrorKind kind = ErrorKindOf(status);
  const std::string kind_name(ErrorKindName(kind));
  const std::string message(status.message());
  // grpcurl and other rich-status readers print the details' message rather
  // than the status line, so both carry the kind.
  const std::string line =
      message.empty() ? kind_name : absl::StrCat(kind_name, ": ", message);
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(line);
  v1::ErrorInfo info;
  info.set_kind(kind_name);
  info.set_message(message);
  details.add_details()->PackFrom(info);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      line, details.SerializeAsString());
}

void FillReplyError(const absl::Status& status, v1::Reply* reply) {
  reply->set_code(static_cast<int>(status.code()));
  reply->set_error_kind(std::string(ErrorKindName(ErrorKindOf(status))));
  reply->set_error_message(std::string(status.message()));
}

}  // namespace shoal::server
