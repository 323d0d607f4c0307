#include "server/core/challenges.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "shared/error_kind.h"
#include "shared/hmac.h"

namespace shoal::server {
namespace {

// The layout of a challenge id, before its URL-safe base64 encoding:
//   version (1) | expiry, Unix microseconds, big-endian (8) |
//   server nonce (32) | client nonce (16 to 64) | MAC of all before it (32)
constexpr char kVersion = 1;
constexpr size_t kExpiryBytes = 8;
constexpr size_t kServerNonceBytes = 32;
constexpr size_t kMinClientNonce = 16;
constexpr size_t kMaxClientNonce = 64;
constexpr size_t kMacBytes = 32;
constexpr size_t kFixedBytes = 1 + kExpiryBytes + kServerNonceBytes + kMacBytes;
// What the MAC covers starts with this, so that it can never be taken for
// another use of the secret.
constexpr absl::string_view kMacContext = "shoal challenge id";

std::string Mac(absl::string_view secret, absl::string_view body) {
  return HmacSha256(secret, absl::StrCat(kMacContext, body));
}

void PutExpiry(absl::Time expiry, std::string* out) {
  const uint64_t micros = static_cast<uint64_t>(absl::ToUnixMicros(expiry));
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((micros >> shift) & 0xff));
  }
}

absl::Time GetExpiry(absl::string_view bytes) {
  uint64_t micros = 0;
  for (size_t i = 0; i < kExpiryBytes; ++i) {
    micros = (micros << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return absl::FromUnixMicros(static_cast<int64_t>(micros));
}

absl::Status Refused(absl::string_view why) {
  return MakeError(ErrorKind::kAuthenticationError, why);
}

}  // namespace

Challenges::Challenges(std::string authkey, absl::Duration ttl, size_t max_recent)
    : authkey_(std::move(authkey)),
      secret_(RandomBytes(32)),
      ttl_(ttl),
      max_recent_(max_recent) {}

absl::StatusOr<Challenges::Issued> Challenges::Issue(const std::string& client_nonce,
                                                     absl::Time now) const {
  if (client_nonce.size() < kMinClientNonce || client_nonce.size() > kMaxClientNonce) {
    return error::ValueError("client_nonce must be 16 to 64 bytes");
  }
  Issued issued;
  issued.server_nonce = RandomBytes(kServerNonceBytes);
  issued.server_proof = ServerProof(authkey_, client_nonce, issued.server_nonce);
  std::string body;
  body.reserve(kFixedBytes + client_nonce.size());
  body.push_back(kVersion);
  PutExpiry(now + ttl_, &body);
  body += issued.server_nonce;
  body += client_nonce;
  body += Mac(secret_, body);
  issued.id = absl::WebSafeBase64Escape(body);
  return issued;
}

absl::Status Challenges::Redeem(const std::string& id, const std::string& client_proof,
                                absl::Time now) {
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(id, &bytes) || bytes.size() < kFixedBytes + kMinClientNonce ||
      bytes.size() > kFixedBytes + kMaxClientNonce || bytes[0] != kVersion) {
    return Refused("malformed challenge");
  }
  const absl::string_view all(bytes);
  const absl::string_view body = all.substr(0, all.size() - kMacBytes);
  const absl::string_view mac = all.substr(body.size());
  if (!ConstantTimeEquals(Mac(secret_, body), mac)) {
    return Refused("malformed challenge: not issued by this server process, or altered");
  }
  const absl::Time expiry = GetExpiry(body.substr(1));
  if (now > expiry) return Refused("challenge expired");
  const absl::string_view server_nonce = body.substr(1 + kExpiryBytes, kServerNonceBytes);
  const absl::string_view client_nonce = body.substr(1 + kExpiryBytes + kServerNonceBytes);
  if (!ConstantTimeEquals(ClientProof(authkey_, server_nonce, client_nonce), client_proof)) {
    return Refused("wrong authkey");
  }
  MutexLock lock(&mu_);
  ForgetExpiredLocked(now);
  // The check of now against the expiry above ran before the lock: another
  // thread may meanwhile have forgotten this challenge's use, with a later
  // now (or before a clock step back). What has been forgotten is refused.
  if (expiry < forgotten_before_) return Refused("challenge expired");
  Redeemed redeemed(expiry, std::string(mac));
  if (redeemed_.count(redeemed) > 0) return Refused("challenge already used");
  if (redeemed_.size() >= max_recent_) {
    return error::LimitError(
        absl::StrCat("too many logins within ", absl::FormatDuration(ttl_),
                     " (at most ", max_recent_, "); try again shortly"));
  }
  redeemed_.insert(std::move(redeemed));
  return absl::OkStatus();
}

void Challenges::Expire(absl::Time now) {
  MutexLock lock(&mu_);
  ForgetExpiredLocked(now);
}

size_t Challenges::remembered() const {
  MutexLock lock(&mu_);
  return redeemed_.size();
}

void Challenges::ForgetExpiredLocked(absl::Time now) {
  // A challenge can be answered up to its expiry included: it is forgotten
  // once that has passed, when no answer to it can be accepted anyway.
  while (!redeemed_.empty() && redeemed_.begin()->first < now) redeemed_.erase(redeemed_.begin());
  forgotten_before_ = std::max(forgotten_before_, now);
}

}  // namespace shoal::server
