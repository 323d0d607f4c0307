#include "shared/error_kind.h"

#include <string>

#include "absl/strings/cord.h"

namespace shoal {
namespace {

// The payload key under which a status carries its kind's name. It is private
// to this process: the gRPC edge copies the kind into shoal.v1.ErrorInfo.
constexpr absl::string_view kKindPayloadKey = "shoal/error-kind";

struct KindInfo {
  ErrorKind kind;
  absl::string_view name;
  absl::StatusCode code;
};

// One row per kind but kNone, which has no name and travels as OK.
constexpr KindInfo kKinds[] = {
    {ErrorKind::kKeyError, "KeyError", absl::StatusCode::kNotFound},
    {ErrorKind::kIndexError, "IndexError", absl::StatusCode::kOutOfRange},
    {ErrorKind::kValueError, "ValueError", absl::StatusCode::kInvalidArgument},
    {ErrorKind::kTypeError, "TypeError", absl::StatusCode::kInvalidArgument},
    {ErrorKind::kAttributeError, "AttributeError", absl::StatusCode::kNotFound},
    {ErrorKind::kRuntimeError, "RuntimeError", absl::StatusCode::kFailedPrecondition},
    {ErrorKind::kEmpty, "Empty", absl::StatusCode::kFailedPrecondition},
    {ErrorKind::kFull, "Full", absl::StatusCode::kFailedPrecondition},
    {ErrorKind::kBrokenBarrierError, "BrokenBarrierError", absl::StatusCode::kAborted},
    {ErrorKind::kTimeoutError, "TimeoutError", absl::StatusCode::kDeadlineExceeded},
    {ErrorKind::kAuthenticationError, "AuthenticationError",
     absl::StatusCode::kUnauthenticated},
    {ErrorKind::kConnectionError, "ConnectionError", absl::StatusCode::kUnavailable},
    {ErrorKind::kLimitError, "LimitError", absl::StatusCode::kResourceExhausted},
    {ErrorKind::kEOFError, "EOFError", absl::StatusCode::kOutOfRange},
    {ErrorKind::kOSError, "OSError", absl::StatusCode::kFailedPrecondition},
    {ErrorKind::kOverflowError, "OverflowError", absl::StatusCode::kOutOfRange},
    {ErrorKind::kShutDown, "ShutDown", absl::StatusCode::kFailedPrecondition},
    {ErrorKind::kWorkerLost, "WorkerLost", absl::StatusCode::kAborted},
    {ErrorKind::kSessionExpired, "SessionExpired", absl::StatusCode::kFailedPrecondition},
    {ErrorKind::kError, "Error", absl::StatusCode::kUnknown},
};

const KindInfo* FindKind(ErrorKind kind) {
  for (const KindInfo& info : kKinds) {
    if (info.kind == kind) return &info;
  }
  return nullptr;
}

}  // namespace

absl::string_view ErrorKindName(ErrorKind kind) {
  const KindInfo* info = FindKind(kind);
  return info == nullptr ? absl::string_view() : info->name;
}

ErrorKind ErrorKindFromName(absl::string_view name) {
  // The empty name is kNone's, so that names round-trip.
  if (name.empty()) return ErrorKind::kNone;
  for (const KindInfo& info : kKinds) {
    if (info.name == name) return info.kind;
  }
  return ErrorKind::kError;
}

absl::StatusCode ErrorKindCode(ErrorKind kind) {
  const KindInfo* info = FindKind(kind);
  return info == nullptr ? absl::StatusCode::kOk : info->code;
}

absl::Status MakeError(ErrorKind kind, absl::string_view message) {
  absl::Status status(ErrorKindCode(kind), message);
  // An OK status cannot carry a payload; kNone simply yields OK.
  if (!status.ok()) status.SetPayload(kKindPayloadKey, absl::Cord(ErrorKindName(kind)));
  return status;
}

ErrorKind ErrorKindOf(const absl::Status& status) {
  if (status.ok()) return ErrorKind::kNone;
  // GetPayload returns absl::optional, which this Abseil build does not alias
  // to std::optional.
  auto payload = status.GetPayload(kKindPayloadKey);
  if (payload.has_value()) {
    ErrorKind kind = ErrorKindFromName(std::string(*payload));
    // A failed status never means "no error", whatever its payload says.
    return kind == ErrorKind::kNone ? ErrorKind::kError : kind;
  }
  // A status from gRPC or another library: only the codes that name a
  // transport-level condition map onto a kind.
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
      return ErrorKind::kAuthenticationError;
    case absl::StatusCode::kUnavailable:
      return ErrorKind::kConnectionError;
    case absl::StatusCode::kResourceExhausted:
      return ErrorKind::kLimitError;
    case absl::StatusCode::kDeadlineExceeded:
      return ErrorKind::kTimeoutError;
    default:
      return ErrorKind::kError;
  }
}

}  // namespace shoal
