#include "client/src/error_mapping.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "shared/error_kind.h"
#include "shoal/errors.h"
#include "shoal/v1/errors.pb.h"

namespace shoal::detail {
namespace {

// The ErrorInfo a gRPC status carries, when the server left one.
bool InfoFromDetails(const grpc::Status& status, v1::ErrorInfo* info) {
  if (status.error_details().empty()) return false;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return false;
  for (const auto& any : details.details()) {
    if (any.UnpackTo(info) && !info->kind().empty()) return true;
  }
  return false;
}

// The kind for a status without details: the transport's own failures.
absl::string_view KindFromCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return "ConnectionError";
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return "AuthenticationError";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "LimitError";
    default:
      return "Error";
  }
}

}  // namespace

std::exception_ptr MakeError(absl::string_view kind, const std::string& message) {
  if (kind.empty()) kind = "Error";
  // One entry per class of shoal/errors.h; the names are the Python ones the
  // server sends in error_kind.
  if (kind == "KeyError") return std::make_exception_ptr(KeyError(message));
  if (kind == "IndexError") return std::make_exception_ptr(IndexError(message));
  if (kind == "ValueError") return std::make_exception_ptr(ValueError(message));
  if (kind == "TypeError") return std::make_exception_ptr(TypeError(message));
  if (kind == "AttributeError") return std::make_exception_ptr(AttributeError(message));
  if (kind == "RuntimeError") return std::make_exception_ptr(RuntimeError(message));
  if (kind == "Empty") return std::make_exception_ptr(Empty(message));
  if (kind == "Full") return std::make_exception_ptr(Full(message));
  if (kind == "BrokenBarrierError") return std::make_exception_ptr(BrokenBarrierError(message));
  if (kind == "TimeoutError") return std::make_exception_ptr(TimeoutError(message));
  if (kind == "AuthenticationError") return std::make_exception_ptr(AuthenticationError(message));
  if (kind == "ConnectionError") return std::make_exception_ptr(ConnectionError(message));
  if (kind == "LimitError") return std::make_exception_ptr(LimitError(message));
  return std::make_exception_ptr(Error(std::string(kind), message));
}

void ThrowError(absl::string_view kind, const std::string& message) {
  std::rethrow_exception(MakeError(kind, message));
}

void ThrowGrpcStatus(const grpc::Status& status, absl::string_view context) {
  v1::ErrorInfo info;
  if (InfoFromDetails(status, &info)) {
    ThrowError(info.kind(), absl::StrCat(context, ": ", info.message()));
  }
  ThrowError(KindFromCode(status.error_code()),
             absl::StrCat(context, ": ", status.error_message()));
}

void ThrowStatus(const absl::Status& status) {
  absl::string_view kind = ErrorKindName(ErrorKindOf(status));
  ThrowError(kind, std::string(status.message()));
}

}  // namespace shoal::detail
