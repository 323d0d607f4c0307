#include "shoal/auth_key.h"

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "client/src/error_mapping.h"
#include "shared/authkey_file.h"
#include "shoal/errors.h"

namespace shoal {

AuthKey AuthKey::from_file(const std::string& path) {
  absl::StatusOr<std::string> key = ReadAuthKeyFile(path);
  if (!key.ok()) detail::ThrowStatus(key.status());
  return from_string(*std::move(key));
}

AuthKey AuthKey::from_env(const std::string& variable) {
  const char* text = std::getenv(variable.c_str());
  if (text == nullptr) throw ValueError(variable + " is not set");
  // The same text a key file holds, read the same way.
  std::string key(absl::StripTrailingAsciiWhitespace(text));
  if (key.empty()) throw ValueError(variable + " holds an empty authkey");
  return AuthKey(std::move(key));
}

AuthKey AuthKey::from_string(std::string key) {
  if (key.empty()) throw ValueError("the authkey is empty");
  return AuthKey(std::move(key));
}

}  // namespace shoal
