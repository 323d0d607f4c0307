// Turns the failures the server reports into the exceptions of
// shoal/errors.h: the kind names of session-stream replies, the details of
// unary gRPC statuses, and the absl::Status results of the shared code.
#ifndef SHOAL_CLIENT_SRC_ERROR_MAPPING_H_
#define SHOAL_CLIENT_SRC_ERROR_MAPPING_H_

#include <grpcpp/support/status.h>

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shoal::detail {

// The exception named by kind ("KeyError" is shoal::KeyError, ...). An unknown
// kind becomes a shoal::Error that carries the name, so that kinds the server
// adds later still reach the caller; an empty kind is "Error".
std::exception_ptr MakeError(absl::string_view kind, const std::string& message);
[[noreturn]] void ThrowError(absl::string_view kind, const std::string& message);

// The exception for a failed unary RPC: the kind from the status details
// (a google.rpc.Status carrying shoal.v1.ErrorInfo) when present, otherwise
// one chosen from the code. context prefixes the message.
[[noreturn]] void ThrowGrpcStatus(const grpc::Status& status, absl::string_view context);

// The exception for a failed absl::Status of the shared code.
[[noreturn]] void ThrowStatus(const absl::Status& status);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_ERROR_MAPPING_H_
