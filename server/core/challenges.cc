#include "server/core/challenges.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "shared/error_kind.h"
#include "shared/hmac.h"

namespace shoal::server {

Challenges::Challenges(std::string authkey, absl::Duration ttl, size_t max_outstanding)
    : authkey_(std::move(authkey)), ttl_(ttl), max_outstanding_(max_outstanding) {}

absl::StatusOr<Challenges::Issued> Challenges::Issue(const std::string& client_nonce,
                                                     absl::Time now) {
  if (client_nonce.size() < 16 || client_nonce.size() > 64) {
    return error::ValueError("client_nonce must be 16 to 64 bytes");
  }
  Issued issued;
  issued.id = absl::BytesToHexString(RandomBytes(16));
  issued.server_nonce = RandomBytes(32);
  issued.server_proof = ServerProof(authkey_, client_nonce, issued.server_nonce);
  MutexLock lock(&mu_);
  if (pending_.size() >= max_outstanding_) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        pending_.erase(it++);
      } else {
        ++it;
      }
    }
    if (pending_.size() >= max_outstanding_) {
      return error::LimitError("too many unanswered challenges; try again shortly");
    }
  }
  pending_[issued.id] = Pending{client_nonce, issued.server_nonce, now + ttl_};
  return issued;
}

absl::Status Challenges::Redeem(const std::string& id, const std::string& client_proof,
                                absl::Time now) {
  Pending pending;
  {
    MutexLock lock(&mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      return MakeError(ErrorKind::kAuthenticationError,
                       "unknown or already used challenge");
    }
    pending = std::move(it->second);
    pending_.erase(it);
  }
  // At its deadline a challenge has expired, as Expire and Issue count it.
  if (now >= pending.deadline) {
    return MakeError(ErrorKind::kAuthenticationError, "challenge expired");
  }
  const std::string expected = ClientProof(authkey_, pending.server_nonce, pending.client_nonce);
  if (!ConstantTimeEquals(expected, client_proof)) {
    return MakeError(ErrorKind::kAuthenticationError, "wrong authkey");
  }
  return absl::OkStatus();
}

void Challenges::Expire(absl::Time now) {
  MutexLock lock(&mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      pending_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace shoal::server
