// Turns the failures the server reports into the exceptions of
// shoal/errors.h: the error kinds named in session-stream replies, and the
// absl::Status results of the shared code.
//
// Thread-safety: the functions may be called from any thread.
#ifndef SHOAL_CLIENT_SRC_ERROR_MAPPING_H_
#define SHOAL_CLIENT_SRC_ERROR_MAPPING_H_

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shoal::detail {

// The exception named by kind ("KeyError" is shoal::KeyError, ...). An unknown
// kind becomes a shoal::Error that carries the name, so that kinds the server
// adds later still reach the caller; an empty kind is "Error".
std::exception_ptr ExceptionForKind(absl::string_view kind, const std::string& message);
[[noreturn]] void ThrowError(absl::string_view kind, const std::string& message);

// The exception for a failed absl::Status of the shared code.
[[noreturn]] void ThrowStatus(const absl::Status& status);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_ERROR_MAPPING_H_
