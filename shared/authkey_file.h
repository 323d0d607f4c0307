// Authkeys on disk. A key is the file's contents less trailing whitespace; a
// generated key is 32 random bytes written as 64 hex digits, so that it can be
// typed, passed in SHOAL_AUTHKEY, and given to openssl as it is.
#ifndef SHOAL_SHARED_AUTHKEY_FILE_H_
#define SHOAL_SHARED_AUTHKEY_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoal {

// Reads a key. Fails (ValueError) for an empty key, or when the file is
// readable by group or others (the key would not be secret).
absl::StatusOr<std::string> ReadAuthKeyFile(const std::string& path);

// Writes a new random key to path, readable and writable by its owner only,
// replacing no existing file; returns the key.
absl::StatusOr<std::string> GenerateAuthKeyFile(const std::string& path);

}  // namespace shoal

#endif  // SHOAL_SHARED_AUTHKEY_FILE_H_
