#include "client/src/error_mapping.h"

#include <string>

#include "shared/error_kind.h"
#include "shoal/errors.h"

namespace shoal::detail {

std::exception_ptr ExceptionForKind(absl::string_view kind, const std::string& message) {
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
  if (kind == "EOFError") return std::make_exception_ptr(EOFError(message));
  if (kind == "OSError") return std::make_exception_ptr(OSError(message));
  if (kind == "OverflowError") return std::make_exception_ptr(OverflowError(message));
  if (kind == "SessionExpired") return std::make_exception_ptr(SessionExpired(message));
  if (kind == "ShutDown") return std::make_exception_ptr(ShutDown(message));
  if (kind == "WorkerLost") return std::make_exception_ptr(WorkerLost(message));
  return std::make_exception_ptr(Error(std::string(kind), message));
}

void ThrowError(absl::string_view kind, const std::string& message) {
  std::rethrow_exception(ExceptionForKind(kind, message));
}

void ThrowStatus(const absl::Status& status) {
  absl::string_view kind = ErrorKindName(ErrorKindOf(status));
  ThrowError(kind, std::string(status.message()));
}

}  // namespace shoal::detail
