// HMAC-SHA256, randomness and constant-time comparison (OpenSSL), and the
// proofs of the mutual authkey handshake described in proto/shoal/v1/auth.proto.
#ifndef SHOAL_SHARED_HMAC_H_
#define SHOAL_SHARED_HMAC_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace shoal {

// HMAC-SHA256(key, data): 32 raw bytes.
std::string HmacSha256(absl::string_view key, absl::string_view data);

// n bytes from OpenSSL's CSPRNG. Aborts the process if the generator fails,
// since nothing secure can go on without it.
std::string RandomBytes(size_t n);

// Whether a and b are equal, in time that depends only on their lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// HMAC(key, "server" | client_nonce | server_nonce): the server's proof.
std::string ServerProof(absl::string_view key, absl::string_view client_nonce,
                        absl::string_view server_nonce);
// HMAC(key, "client" | server_nonce | client_nonce): the client's proof.
std::string ClientProof(absl::string_view key, absl::string_view server_nonce,
                        absl::string_view client_nonce);

}  // namespace shoal

#endif  // SHOAL_SHARED_HMAC_H_
