#include "shared/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace shoal {
namespace {

constexpr size_t kSha256Size = 32;

// OpenSSL treats a null key pointer as "reuse the previous key" in places, so
// an empty key is passed as a valid pointer to nothing.
const unsigned char* BytesOf(absl::string_view s) {
  static const unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

std::string Proof(absl::string_view key, absl::string_view label, absl::string_view first,
                  absl::string_view second) {
  std::string message;
  message.reserve(label.size() + first.size() + second.size());
  message.append(label.data(), label.size());
  message.append(first.data(), first.size());
  message.append(second.data(), second.size());
  return HmacSha256(key, message);
}

}  // namespace

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  // The key length is an int in OpenSSL's interface.
  if (key.size() > static_cast<size_t>(INT_MAX)) {
    std::fprintf(stderr, "shoal: HMAC key too long\n");
    std::abort();
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(EVP_sha256(), BytesOf(key), static_cast<int>(key.size()), BytesOf(data), data.size(),
           out, &out_len) == nullptr ||
      out_len != kSha256Size) {
    // Only a broken crypto library fails here; a wrong MAC would be worse
    // than stopping.
    std::fprintf(stderr, "shoal: HMAC-SHA256 failed\n");
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    // RAND_bytes takes an int count; fill large requests in pieces.
    size_t chunk = std::min(n - done, static_cast<size_t>(1) << 30);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&out[done]), static_cast<int>(chunk)) != 1) {
      std::fprintf(stderr, "shoal: the OpenSSL random generator failed\n");
      std::abort();
    }
    done += chunk;
  }
  return out;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // The lengths of a MAC or key are public; only the bytes must not leak.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ServerProof(absl::string_view key, absl::string_view client_nonce,
                        absl::string_view server_nonce) {
  return Proof(key, "server", client_nonce, server_nonce);
}

std::string ClientProof(absl::string_view key, absl::string_view server_nonce,
                        absl::string_view client_nonce) {
  return Proof(key, "client", server_nonce, client_nonce);
}

}  // namespace shoal
