// The error kinds of shoal: Python's exception names, carried inside
// absl::Status as a payload so that the gRPC edge can name them in the status
// details and the client can raise the matching shoal::Error.
#ifndef SHOAL_SHARED_ERROR_KIND_H_
#define SHOAL_SHARED_ERROR_KIND_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shoal {

enum class ErrorKind {
  kNone,
  kKeyError,
  kIndexError,
  kValueError,
  kTypeError,
  kAttributeError,
  kRuntimeError,
  kEmpty,
  kFull,
  kBrokenBarrierError,
  kTimeoutError,
  kAuthenticationError,
  kConnectionError,
  kLimitError,
  kEOFError,
  kOSError,
  kOverflowError,
  kShutDown,
  kWorkerLost,
  // A session that ended while its client was away, as a resume learns.
  kSessionExpired,
  // Anything else: an internal failure, reported with its status code.
  kError,
};

// "KeyError", "IndexError", ...; "Error" for kError, "" for kNone.
absl::string_view ErrorKindName(ErrorKind kind);
// The kind named name; kError for an unknown name.
ErrorKind ErrorKindFromName(absl::string_view name);
// The status code each kind travels with (KeyError is NOT_FOUND, ...).
absl::StatusCode ErrorKindCode(ErrorKind kind);

// A status of the given kind: its code is ErrorKindCode(kind) and it carries
// the kind as a payload.
absl::Status MakeError(ErrorKind kind, absl::string_view message);
// The kind a status carries; for a status made elsewhere, the kind its code
// suggests (kError when none fits), and kNone for OK.
ErrorKind ErrorKindOf(const absl::Status& status);

// Shorthands: error::KeyError("'k'") and so on.
namespace error {

inline absl::Status KeyError(absl::string_view m) { return MakeError(ErrorKind::kKeyError, m); }
inline absl::Status IndexError(absl::string_view m) { return MakeError(ErrorKind::kIndexError, m); }
inline absl::Status ValueError(absl::string_view m) { return MakeError(ErrorKind::kValueError, m); }
inline absl::Status TypeError(absl::string_view m) { return MakeError(ErrorKind::kTypeError, m); }
inline absl::Status AttributeError(absl::string_view m) {
  return MakeError(ErrorKind::kAttributeError, m);
}
inline absl::Status RuntimeError(absl::string_view m) {
  return MakeError(ErrorKind::kRuntimeError, m);
}
inline absl::Status LimitError(absl::string_view m) { return MakeError(ErrorKind::kLimitError, m); }
inline absl::Status EOFError(absl::string_view m) { return MakeError(ErrorKind::kEOFError, m); }
inline absl::Status OSError(absl::string_view m) { return MakeError(ErrorKind::kOSError, m); }
inline absl::Status OverflowError(absl::string_view m) {
  return MakeError(ErrorKind::kOverflowError, m);
}
inline absl::Status ShutDown(absl::string_view m) { return MakeError(ErrorKind::kShutDown, m); }

}  // namespace error
}  // namespace shoal

#endif  // SHOAL_SHARED_ERROR_KIND_H_
