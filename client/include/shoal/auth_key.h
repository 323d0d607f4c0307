// An AuthKey is the shared secret that proves a client may use a shoal server,
// like the authkey of Python's multiprocessing managers. The handshake proves
// possession in both directions with HMAC-SHA256; the key itself never goes on
// the wire.
//
// An AuthKey is an immutable value: it is safe to share between threads and to
// copy.
#ifndef SHOAL_AUTH_KEY_H_
#define SHOAL_AUTH_KEY_H_

#include <string>

namespace shoal {

class AuthKey {
 public:
  // Reads a key file: its contents less trailing whitespace, as the server
  // writes and reads it. Throws ValueError for a missing or unreadable file,
  // an empty key, or a file that group or others may read (the key would not
  // be secret); shoal::Error for other failures of the file system.
  static AuthKey from_file(const std::string& path);

  // Takes the key from an environment variable, less trailing whitespace, the
  // same text a key file holds. Throws ValueError when the variable is unset
  // or empty.
  static AuthKey from_env(const std::string& variable = "SHOAL_AUTHKEY");

  // Takes the key as given. Throws ValueError for an empty key.
  static AuthKey from_string(std::string key);

  // The key's bytes. Used by the handshake; do not log them.
  const std::string& secret() const { return key_; }

 private:
  explicit AuthKey(std::string key) : key_(std::move(key)) {}

  std::string key_;
};

}  // namespace shoal

#endif  // SHOAL_AUTH_KEY_H_
