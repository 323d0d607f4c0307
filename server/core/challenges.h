// The server's half of the authkey handshake: issues challenges that carry the
// server's proof, and redeems the client's answer. A challenge can be
// redeemed once, successfully or not, and only before it expires.
//
// Thread-safe.
#ifndef SHOAL_SERVER_CORE_CHALLENGES_H_
#define SHOAL_SERVER_CORE_CHALLENGES_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shared/mutex.h"

namespace shoal::server {

class Challenges {
 public:
  struct Issued {
    std::string id;
    std::string server_nonce;
    std::string server_proof;
  };

  // At most max_outstanding challenges wait for an answer at once, so that
  // unanswered challenges cannot fill the server's memory.
  Challenges(std::string authkey, absl::Duration ttl, size_t max_outstanding);

  // A new challenge for client_nonce, which must be 16 to 64 bytes
  // (ValueError otherwise). LimitError when too many are outstanding.
  absl::StatusOr<Issued> Issue(const std::string& client_nonce, absl::Time now);

  // Checks the client's proof for challenge id. The challenge is used up
  // whatever the outcome. AuthenticationError for an unknown, used or expired
  // challenge or a wrong proof.
  absl::Status Redeem(const std::string& id, const std::string& client_proof, absl::Time now);

  // Forgets expired challenges.
  void Expire(absl::Time now);

 private:
  struct Pending {
    std::string client_nonce;
    std::string server_nonce;
    absl::Time deadline;
  };

  const std::string authkey_;
  const absl::Duration ttl_;
  const size_t max_outstanding_;
  Mutex mu_;
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_CORE_CHALLENGES_H_
